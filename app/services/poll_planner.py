"""Pick the posts that are due, claim them, and cut them into per-account batches.

Claiming moves `next_fetch_at` forward by a lease, in the same transaction that reads the due
rows, so a later tick (or another worker) never picks a claimed post again. When the batch's
fetch finishes it sets the real next time; if it were ever lost, the lease runs out and the post
is due again. Each batch's id is derived from its account, its due time and its posts, so
enqueuing the same batch twice is a no-op.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ExternalStatus, Provider, ScheduleExternal
from app.services.workspace_lifecycle import workspace_active

CLAIM_LEASE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    workflow_id: str
    account_id: str
    provider: Provider
    external_row_ids: tuple[str, ...]
    lease_until: str  # ISO time the claim holds the posts until


def batch_workflow_id(account_id: str, due_stamp: str, row_ids: list[str]) -> str:
    digest = hashlib.sha256(",".join(sorted(row_ids)).encode()).hexdigest()[:16]
    return f"insights-fetch:{account_id}:{due_stamp}:{digest}"


async def count_due(session: AsyncSession, now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                ScheduleExternal.status == ExternalStatus.LIVE,
                ScheduleExternal.next_fetch_at <= now,
                workspace_active(ScheduleExternal.workspace_id),
            )
        )
        or 0
    )


async def claim_due_batches(
    session: AsyncSession,
    *,
    now: datetime,
    batch_size: int,
    limit: int = 100_000,
    lease: timedelta = CLAIM_LEASE,
) -> list[PlannedBatch]:
    """Claim up to `limit` due posts and return them as batches.

    Posts of accounts that need reconnecting are still claimed: their batch records the
    reason cheaply (no platform call), so the summary reports them and they are not re-read
    every tick.
    """
    stmt = (
        select(
            ScheduleExternal.id,
            ScheduleExternal.account_id,
            ScheduleExternal.provider,
            ScheduleExternal.media_type,
        )
        .where(
            ScheduleExternal.status == ExternalStatus.LIVE,
            ScheduleExternal.next_fetch_at <= now,
            # A disabled workspace's posts are not polled (due again once it is enabled).
            workspace_active(ScheduleExternal.workspace_id),
        )
        .order_by(ScheduleExternal.account_id, ScheduleExternal.next_fetch_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another claimer (an API fetch, a second planner) skips rows we hold.
        stmt = stmt.with_for_update(of=ScheduleExternal, skip_locked=True)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 5000):
        await session.execute(
            update(ScheduleExternal)
            .where(ScheduleExternal.id.in_(ids[start : start + 5000]))
            .values(next_fetch_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    # One media type per batch: Graph reads each kind with its own metric set, so a batch of
    # one kind is one HTTP call (mixed kinds would cost one call per kind).
    groups: dict[tuple[str, Provider, str], list[str]] = defaultdict(list)
    for row in rows:
        groups[(str(row.account_id), row.provider, row.media_type or "")].append(str(row.id))
    # To the microsecond: a batch whose store failed is due again at once (its claim put
    # back), and a claim within the same second must not reuse the failed batch's id (DBOS
    # would hand back that batch's recorded result instead of fetching).
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    lease_until = (now + lease).isoformat()
    batches = []
    for (account_id, provider, _media_type), row_ids in groups.items():
        for i in range(0, len(row_ids), batch_size):
            chunk = row_ids[i : i + batch_size]
            batches.append(
                PlannedBatch(
                    workflow_id=batch_workflow_id(account_id, stamp, chunk),
                    account_id=account_id,
                    provider=provider,
                    external_row_ids=tuple(chunk),
                    lease_until=lease_until,
                )
            )
    return batches


def parse_ids(raw: tuple[str, ...] | list[str]) -> list[uuid.UUID]:
    return [uuid.UUID(x) for x in raw]
