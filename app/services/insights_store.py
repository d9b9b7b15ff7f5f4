"""Snapshot storage: idempotent upserts into `post_metrics`, `schedule_metrics` recompute, reads.

A snapshot's key is (schedule, provider, bucket start). A re-fetch inside a bucket updates that
row with the newest values; concurrent writers never produce two rows (ON CONFLICT on both
SQLite and PostgreSQL), an older capture never overwrites a newer one, and a fake row never
overwrites a real one.
"""

from __future__ import annotations

import struct
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import METRIC_FIELDS, MetricsSource, PostMetrics, Provider, ScheduleMetrics
from app.models.base import utcnow
from app.schemas.common import cursor_bytes, cursor_from_bytes
from app.services.insights_mapper import MetricValues, compute_schedule_analytics

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One post's metrics as read at `captured_at`, ready to store."""

    schedule_id: uuid.UUID
    provider: Provider
    captured_at: datetime
    values: MetricValues
    source: MetricsSource
    api_version: str | None = None
    media_type: str | None = None
    raw: dict[str, Any] | None = None


def bucket_start(moment: datetime, bucket_seconds: int) -> datetime:
    """The start of the snapshot bucket holding `moment` (buckets are aligned to the epoch)."""
    seconds = int((moment - EPOCH).total_seconds())
    return datetime.fromtimestamp(seconds - seconds % bucket_seconds, UTC)


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT (for ON CONFLICT) on the model's table, rendering NULLs so a whole
    batch of rows with different null columns stays one executemany instead of many small
    statements. A Core insert on the table: the ORM's bulk-insert bookkeeping per row showed
    in the poller's profile and buys nothing here."""
    name = session.get_bind().dialect.name
    insert = postgresql.insert if name == "postgresql" else sqlite.insert

    def build(model: Any) -> Any:
        return insert(model.__table__).execution_options(render_nulls=True)

    return build


def _newest_per_key(snapshots: Iterable[Snapshot], bucket_seconds: int) -> list[dict[str, Any]]:
    """Rows to write, one per key (the newest capture wins inside one call too)."""
    best: dict[tuple[uuid.UUID, str, datetime], dict[str, Any]] = {}
    for snap in snapshots:
        bucket = bucket_start(snap.captured_at, bucket_seconds)
        key = (snap.schedule_id, snap.provider.value, bucket)
        current = best.get(key)
        if current is not None and current["captured_at"] >= snap.captured_at:
            continue
        best[key] = {
            "schedule_id": snap.schedule_id,
            "provider": snap.provider,
            "fetched_at": bucket,
            "captured_at": snap.captured_at,
            "source": snap.source,
            "api_version": snap.api_version,
            "media_type": snap.media_type,
            "raw": snap.raw,
            **snap.values.as_dict(),
        }
    # One lock order for every writer: concurrent upserts on PostgreSQL cannot deadlock.
    return [best[key] for key in sorted(best, key=lambda k: (str(k[0]), k[1], k[2]))]


async def upsert_snapshots(
    session: AsyncSession, snapshots: Sequence[Snapshot], *, bucket_seconds: int
) -> int:
    """Write snapshots; returns how many rows were offered (after de-duplication)."""
    rows = _newest_per_key(snapshots, bucket_seconds)
    if not rows:
        return 0
    stmt = insert_for(session)(PostMetrics)
    excluded = stmt.excluded
    updated = ("captured_at", "source", "api_version", "media_type", "raw", *METRIC_FIELDS)
    stmt = stmt.on_conflict_do_update(
        index_elements=["schedule_id", "provider", "fetched_at"],
        set_={name: getattr(excluded, name) for name in updated},
        where=and_(
            excluded.captured_at >= PostMetrics.captured_at,
            or_(PostMetrics.source == MetricsSource.FAKE, excluded.source != MetricsSource.FAKE),
        ),
    )
    await session.execute(stmt, rows)
    return len(rows)


def _ranked_latest(schedule_ids: Any, *columns: Any) -> Any:
    """`columns` of the schedules' snapshots, each ranked newest-first per (schedule,
    provider): rank 1 is the latest snapshot of each provider. `schedule_ids`: the ids, or
    an expanding bound parameter."""
    return (
        select(
            *columns,
            func.row_number()
            .over(
                partition_by=(PostMetrics.schedule_id, PostMetrics.provider),
                order_by=PostMetrics.fetched_at.desc(),
            )
            .label("rank"),
        )
        .where(PostMetrics.schedule_id.in_(schedule_ids))
        .subquery()
    )


# A snapshot's columns but its raw payload (large, and never needed by a reader of values).
_SNAPSHOT_COLUMNS = tuple(c for c in PostMetrics.__table__.c if c.key != "raw")


def _latest_rows_stmt() -> Any:
    ranked = _ranked_latest(bindparam("schedule_ids", expanding=True), PostMetrics.id)
    return (
        select(*_SNAPSHOT_COLUMNS)
        .join(ranked, PostMetrics.id == ranked.c.id)
        .where(ranked.c.rank == 1)
    )


_LATEST_ROWS = _latest_rows_stmt()  # built once: every metrics read runs it


async def latest_snapshots(
    session: AsyncSession, schedule_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """The newest snapshot per provider for each schedule: rows of every `post_metrics`
    column but `raw` (plain rows, not ORM objects: they are only read)."""
    out: dict[uuid.UUID, list[Any]] = defaultdict(list)
    if not schedule_ids:
        return out
    for row in await session.execute(_LATEST_ROWS, {"schedule_ids": list(schedule_ids)}):
        out[row.schedule_id].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r.provider.value)
    return out


def values_of(row: Any) -> MetricValues:
    """The metric columns of a `post_metrics` row (ORM object or plain result row)."""
    return MetricValues(**{name: getattr(row, name) for name in METRIC_FIELDS})


async def recompute_schedule_metrics(
    session: AsyncSession, schedule_ids: Sequence[uuid.UUID]
) -> None:
    """`normalize_metrics_for_analytics()` for many schedules: latest per provider → analytics.

    Reads plain columns (no ORM objects, no raw payloads): this runs for every fetched batch.
    """
    ids = sorted(set(schedule_ids), key=str)
    if not ids:
        return
    ranked = _ranked_latest(
        ids,
        PostMetrics.schedule_id,
        PostMetrics.provider,
        PostMetrics.source,
        *(getattr(PostMetrics, name) for name in METRIC_FIELDS),
    )
    latest: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await session.execute(select(ranked).where(ranked.c.rank == 1)):
        latest[row.schedule_id].append(row)
    if not latest:
        return
    now = utcnow()
    rows = []
    for schedule_id, snapshots in sorted(latest.items(), key=lambda kv: str(kv[0])):
        snapshots.sort(key=lambda s: s.provider.value)
        analytics = compute_schedule_analytics([values_of(s) for s in snapshots])
        rows.append(
            {
                "schedule_id": schedule_id,
                **analytics.totals.as_dict(),
                "engagement": analytics.engagement,
                "engagement_rate": analytics.engagement_rate,
                "click_through_rate": analytics.click_through_rate,
                "cost_per_engagement_cents": analytics.cost_per_engagement_cents,
                "providers": [s.provider.value for s in snapshots],
                "includes_fake": any(s.source == MetricsSource.FAKE for s in snapshots),
                "computed_at": now,
            }
        )
    stmt = insert_for(session)(ScheduleMetrics)
    stmt = stmt.on_conflict_do_update(
        index_elements=["schedule_id"],
        set_={c: getattr(stmt.excluded, c) for c in rows[0] if c != "schedule_id"},
    )
    await session.execute(stmt, rows)


async def normalize_metrics_for_analytics(
    session: AsyncSession, *, schedule_id: uuid.UUID
) -> ScheduleMetrics | None:
    """Recompute and return one schedule's analytics from its latest snapshots."""
    await recompute_schedule_metrics(session, [schedule_id])
    return await session.get(ScheduleMetrics, schedule_id, populate_existing=True)


# --- history -------------------------------------------------------------------------------


# A history cursor is the last row's (fetched_at in microseconds since the epoch, id), two signed
# 64-bit numbers: the 16 bytes every cursor holds (`app.schemas.common.CURSOR_PATTERN`). Any 16
# bytes are a position: a time beyond what datetime holds is taken at its end of the range.
_HISTORY_POSITION = struct.Struct(">qq")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EARLIEST_MICROS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LATEST_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def encode_history_cursor(row: PostMetrics) -> str:
    fetched_at = row.fetched_at if row.fetched_at.tzinfo else row.fetched_at.replace(tzinfo=UTC)
    micros = (fetched_at - _EPOCH) // _MICROSECOND
    return cursor_from_bytes(_HISTORY_POSITION.pack(micros, row.id))


def _decode_history_cursor(cursor: str) -> tuple[datetime, int] | None:
    raw = cursor_bytes(cursor)
    if raw is None:
        return None
    micros, row_id = _HISTORY_POSITION.unpack(raw)
    micros = min(max(micros, _EARLIEST_MICROS), _LATEST_MICROS)
    return _EPOCH + micros * _MICROSECOND, row_id


async def history(
    session: AsyncSession,
    *,
    schedule_id: uuid.UUID,
    provider: Provider | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[PostMetrics], str | None]:
    """Snapshots oldest first, filtered by provider and [start, end), paginated."""
    stmt = select(PostMetrics).where(PostMetrics.schedule_id == schedule_id)
    if provider is not None:
        stmt = stmt.where(PostMetrics.provider == provider)
    if start is not None:
        stmt = stmt.where(PostMetrics.fetched_at >= start)
    if end is not None:
        stmt = stmt.where(PostMetrics.fetched_at < end)
    if (position := _decode_history_cursor(cursor or "")) is not None:
        after, after_id = position
        stmt = stmt.where(
            or_(
                PostMetrics.fetched_at > after,
                and_(PostMetrics.fetched_at == after, PostMetrics.id > after_id),
            )
        )
    stmt = stmt.order_by(PostMetrics.fetched_at, PostMetrics.id).limit(limit + 1)
    rows = list(await session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_history_cursor(rows[-1]) if more and rows else None)
