"""Refresh tracked posts: fetch from the platform, map, upsert snapshots, recompute analytics.

Used by the insights API ("fetch now") and by the background poller (one call per account
batch). Reads happen in a short transaction, platform calls outside any transaction, and all
writes in one write-first transaction, so SQLite's single writer is never held across HTTP.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.runtime import Runtime
from app.core.security import TokenDecryptError
from app.integrations.errors import (
    NoStatisticsError,
    NotFoundError,
    PlatformError,
    PlatformPermissionError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.types import PostFetchResult
from app.models import (
    AccountStatus,
    ExternalStatus,
    MetricsSource,
    PostMetrics,
    Provider,
    ScheduleExternal,
    SocialAccount,
    ThrottleState,
)
from app.models.base import utcnow
from app.services.insights_mapper import (
    generate_fake_metrics,
    map_linkedin_to_post_metrics,
    map_meta_to_post_metrics,
)
from app.services.insights_store import (
    Snapshot,
    _insert_for,
    recompute_schedule_metrics,
    upsert_snapshots,
)
from app.services.platform_clients import PlatformClients

log = structlog.get_logger(__name__)

# A LinkedIn key answering 429 this many times in a row is parked until UTC midnight.
LINKEDIN_PARK_AFTER = 3
MAX_ERROR_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class PostOutcome:
    external_row_id: uuid.UUID
    schedule_id: uuid.UUID
    provider: Provider
    status: str  # fetched | error | skipped
    error_kind: str | None = None
    message: str | None = None
    retry_at: datetime | None = None


@dataclass
class RefreshReport:
    outcomes: list[PostOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


@dataclass
class _Row:
    """What the refresh needs of one tracked post (read before any platform call)."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    provider: Provider
    external_id: str
    media_type: str | None
    published_at: datetime | None
    consecutive_failures: int


@dataclass
class _Account:
    id: uuid.UUID
    provider: Provider
    external_id: str
    status: AccountStatus
    token_enc: str


@dataclass
class _Writes:
    snapshots: list[Snapshot] = field(default_factory=list)
    external_updates: list[dict[str, Any]] = field(default_factory=list)
    account_updates: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    throttles: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_schedules: set[uuid.UUID] = field(default_factory=set)


# --- cadence -------------------------------------------------------------------------------


def poll_interval(
    published_at: datetime | None, now: datetime, *, hours: float, decay: bool
) -> timedelta:
    """How long until the next poll: the interval, or by age when decay is on."""
    base = timedelta(hours=hours)
    if not decay or published_at is None:
        return base
    age = now - published_at
    if age < timedelta(days=1):
        return min(base, timedelta(hours=1))
    if age < timedelta(days=7):
        return base
    return max(base, timedelta(days=1))


def next_fetch_at(
    published_at: datetime | None, now: datetime, *, hours: float, decay: bool, max_age_days: int
) -> datetime | None:
    """When to poll next, or None when the post is past INSIGHTS_MAX_AGE_DAYS."""
    if published_at is not None and now - published_at > timedelta(days=max_age_days):
        return None
    return now + poll_interval(published_at, now, hours=hours, decay=decay)


def error_backoff(failures: int, now: datetime) -> datetime:
    """Exponential backoff with jitter for posts whose last fetch failed transiently."""
    delay = min(MAX_ERROR_BACKOFF, timedelta(minutes=5) * (1 << min(failures, 10)))
    return now + delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def next_utc_midnight(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def throttle_key(account: _Account) -> str:
    return f"{account.provider.value}:{account.external_id}"


# --- error classification ------------------------------------------------------------------


def error_kind(error: PlatformError) -> str:
    if isinstance(error, TokenError):
        return "token_expired"
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, NoStatisticsError):
        return "no_data"
    if isinstance(error, NotFoundError):
        return "deleted"
    if isinstance(error, PlatformPermissionError):
        return "permission"
    if isinstance(error, TransientError):
        return "transient"
    return "rejected"


# --- the refresh ---------------------------------------------------------------------------


class InsightsRefresher:
    """Refreshes batches of tracked posts with the process's platform clients."""

    def __init__(self, runtime: Runtime, clients: PlatformClients) -> None:
        self.runtime = runtime
        self.clients = clients
        self.settings = runtime.settings

    async def refresh(
        self, external_row_ids: Sequence[uuid.UUID], *, now: datetime | None = None
    ) -> RefreshReport:
        """Fetch and store metrics for these `schedule_external` rows (any accounts)."""
        now = now or utcnow()
        groups, throttled, has_real = await self._load(external_row_ids, now)
        report = RefreshReport()
        writes = _Writes()
        for account, rows in groups:
            await self._refresh_account(account, rows, now, throttled, has_real, writes, report)
        await self._write(writes)
        return report

    async def _load(
        self, ids: Sequence[uuid.UUID], now: datetime
    ) -> tuple[list[tuple[_Account | None, list[_Row]]], dict[str, datetime], set[uuid.UUID]]:
        async with self.runtime.sessionmaker() as session:
            result = await session.execute(
                select(ScheduleExternal, SocialAccount)
                .outerjoin(SocialAccount, ScheduleExternal.account_id == SocialAccount.id)
                .where(ScheduleExternal.id.in_(ids))
            )
            by_account: dict[uuid.UUID | None, tuple[_Account | None, list[_Row]]] = {}
            for ext, acc in result:
                if ext.status != ExternalStatus.LIVE:
                    continue
                key = acc.id if acc else None
                if key not in by_account:
                    account = (
                        _Account(
                            acc.id, acc.provider, acc.external_id, acc.status, acc.access_token_enc
                        )
                        if acc
                        else None
                    )
                    by_account[key] = (account, [])
                by_account[key][1].append(
                    _Row(
                        ext.id,
                        ext.schedule_id,
                        ext.provider,
                        ext.external_id,
                        ext.media_type,
                        ext.published_at,
                        ext.consecutive_failures,
                    )
                )
            throttles = {
                t.key: t.throttled_until
                for t in await session.scalars(
                    select(ThrottleState).where(ThrottleState.throttled_until > now)
                )
                if t.throttled_until is not None
            }
            has_real: set[uuid.UUID] = set()
            if self.settings.FEATURE_FAKE_INSIGHTS:
                schedule_ids = [r.schedule_id for _, rows in by_account.values() for r in rows]
                has_real = set(
                    await session.scalars(
                        select(PostMetrics.schedule_id)
                        .where(
                            PostMetrics.schedule_id.in_(schedule_ids),
                            PostMetrics.source != MetricsSource.FAKE,
                        )
                        .distinct()
                    )
                )
        return list(by_account.values()), throttles, has_real

    async def _refresh_account(
        self,
        account: _Account | None,
        rows: list[_Row],
        now: datetime,
        throttled: dict[str, datetime],
        has_real: set[uuid.UUID],
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        if account is None or account.status == AccountStatus.DISABLED:
            for row in rows:
                self._fail(
                    row,
                    "account_disconnected",
                    "the account was removed or disabled",
                    now,
                    writes,
                    report,
                    next_at=None,
                )
            return
        if account.status == AccountStatus.RECONNECT_REQUIRED:
            for row in rows:
                self._fail(
                    row,
                    "reconnect_required",
                    "the account needs to be reconnected",
                    now,
                    writes,
                    report,
                )
            return
        if self.settings.FEATURE_FAKE_INSIGHTS:
            self._fake(rows, now, has_real, writes, report)
            return
        key = throttle_key(account)
        until = throttled.get(key) or (
            throttled.get("meta:app") if account.provider != Provider.LINKEDIN else None
        )
        if until is not None:
            for row in rows:
                self._fail(
                    row,
                    "throttled",
                    f"throttled until {until.isoformat()}",
                    now,
                    writes,
                    report,
                    next_at=until,
                )
            return
        try:
            token = self.runtime.cipher.decrypt(account.token_enc)
        except TokenDecryptError as exc:
            self._account_broken(account, str(exc), rows, now, writes, report)
            return
        try:
            results = await self._fetch(account, token, rows)
        except TokenError as exc:
            self._account_broken(account, exc.message, rows, now, writes, report)
            return
        except ThrottledError as exc:
            self._throttle(account, exc, rows, now, writes, report)
            return
        except PlatformError as exc:
            for row in rows:
                self._fail(row, error_kind(exc), exc.message, now, writes, report)
            return
        self._absorb(account, token, rows, results, now, writes, report)

    async def _fetch(
        self, account: _Account, token: str, rows: list[_Row]
    ) -> dict[str, PostFetchResult]:
        ids = [r.external_id for r in rows]
        types = {r.external_id: r.media_type for r in rows if r.media_type}
        if account.provider == Provider.FACEBOOK:
            return await self.clients.meta.get_fb_post_insights(
                token, ids, page_id=account.external_id, media_types=types
            )
        if account.provider == Provider.INSTAGRAM:
            return await self.clients.meta.get_ig_media_insights(
                token, ids, media_types=types, ig_user_id=account.external_id
            )
        if account.external_id.startswith("urn:li:organization:"):
            return await self.clients.linkedin.get_ugc_stats(token, account.external_id, ids)
        return await self.clients.linkedin.get_member_post_stats(token, ids)

    def _absorb(
        self,
        account: _Account,
        _token: str,
        rows: list[_Row],
        results: dict[str, PostFetchResult],
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        for row in rows:
            result = results.get(row.external_id)
            if result is None:
                self._fail(row, "transient", "no result for this post", now, writes, report)
                continue
            if not result.ok or result.payload is None:
                error = result.error
                if isinstance(error, TokenError):
                    self._account_broken(account, error.message, [row], now, writes, report)
                elif isinstance(error, ThrottledError):
                    self._throttle(account, error, [row], now, writes, report)
                elif error is None:
                    self._fail(row, "transient", "empty result", now, writes, report)
                else:
                    kind = error_kind(error)
                    self._fail(
                        row, kind, error.message, now, writes, report, deleted=kind == "deleted"
                    )
                continue
            self._store(account, row, result, now, writes, report)

    def _store(
        self,
        account: _Account,
        row: _Row,
        result: PostFetchResult,
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        assert result.payload is not None
        media_type = result.media_type or row.media_type
        if row.provider == Provider.LINKEDIN:
            is_org = account.external_id.startswith("urn:li:organization:")
            values = map_linkedin_to_post_metrics(
                result.payload,
                kind="organization" if is_org else "member",
                fields=self.clients.linkedin.config.stats_fields,
            )
            source, version = MetricsSource.LINKEDIN, self.settings.LINKEDIN_API_VERSION
        else:
            values = map_meta_to_post_metrics(
                "facebook" if row.provider == Provider.FACEBOOK else "instagram",
                result.payload,
                media_type=media_type,
            )
            source, version = MetricsSource.META, self.settings.META_GRAPH_API_VERSION
        writes.snapshots.append(
            Snapshot(
                schedule_id=row.schedule_id,
                provider=row.provider,
                captured_at=now,
                values=values,
                source=source,
                api_version=version,
                media_type=media_type,
                raw=result.payload,
            )
        )
        self._success(row, now, writes, report, media_type=media_type)

    def _fake(
        self,
        rows: list[_Row],
        now: datetime,
        has_real: set[uuid.UUID],
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        for row in rows:
            if row.schedule_id in has_real:
                # Fake numbers never stand in for real ones.
                self._fail(
                    row,
                    "real_data_exists",
                    "real metrics exist; fake generation skipped",
                    now,
                    writes,
                    report,
                )
                continue
            age = (now - (row.published_at or now)).total_seconds() / 3600
            values = generate_fake_metrics(
                row.provider.value, row.external_id, age, media_type=row.media_type
            )
            writes.snapshots.append(
                Snapshot(
                    row.schedule_id,
                    row.provider,
                    now,
                    values,
                    MetricsSource.FAKE,
                    None,
                    row.media_type,
                    None,
                )
            )
            self._success(row, now, writes, report, media_type=row.media_type)

    # --- outcome bookkeeping --------------------------------------------------------------

    def _success(
        self,
        row: _Row,
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
        *,
        media_type: str | None,
    ) -> None:
        s = self.settings
        writes.external_updates.append(
            {
                "id": row.id,
                "media_type": media_type,
                "last_fetched_at": now,
                "next_fetch_at": next_fetch_at(
                    row.published_at,
                    now,
                    hours=s.INSIGHTS_POLL_INTERVAL_HOURS,
                    decay=s.INSIGHTS_POLL_DECAY,
                    max_age_days=s.INSIGHTS_MAX_AGE_DAYS,
                ),
                "last_error_kind": None,
                "last_error": None,
                "consecutive_failures": 0,
            }
        )
        writes.fetched_schedules.add(row.schedule_id)
        report.outcomes.append(PostOutcome(row.id, row.schedule_id, row.provider, "fetched"))

    def _fail(
        self,
        row: _Row,
        kind: str,
        message: str,
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
        *,
        next_at: datetime | None | bool = True,
        deleted: bool = False,
    ) -> None:
        if next_at is True:
            next_at = error_backoff(row.consecutive_failures, now)
        update_row: dict[str, Any] = {
            "id": row.id,
            "last_error_kind": kind,
            "last_error": message[:1000],
            "consecutive_failures": row.consecutive_failures + 1,
            "next_fetch_at": None if deleted else next_at,
        }
        if deleted:
            update_row["status"] = ExternalStatus.DELETED  # deleted posts stop being polled
        writes.external_updates.append(update_row)
        retry_at = next_at if isinstance(next_at, datetime) else None
        report.outcomes.append(
            PostOutcome(row.id, row.schedule_id, row.provider, "error", kind, message, retry_at)
        )
        log.debug(
            "insights.fetch.post_failed",
            provider=row.provider.value,
            kind=kind,
            external_id=row.external_id,
        )

    def _account_broken(
        self,
        account: _Account,
        message: str,
        rows: list[_Row],
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        """Token errors mark the account at once; no retries until it is reconnected."""
        writes.account_updates[account.id] = {
            "id": account.id,
            "status": AccountStatus.RECONNECT_REQUIRED,
            "last_error": message[:1000],
            "updated_at": now,
        }
        log.warning(
            "insights.account.reconnect_required",
            account_id=str(account.id),
            provider=account.provider.value,
        )
        for row in rows:
            self._fail(
                row,
                "token_expired",
                message,
                now,
                writes,
                report,
                next_at=now + timedelta(hours=self.settings.INSIGHTS_POLL_INTERVAL_HOURS),
            )

    def _throttle(
        self,
        account: _Account,
        exc: ThrottledError,
        rows: list[_Row],
        now: datetime,
        writes: _Writes,
        report: RefreshReport,
    ) -> None:
        key = throttle_key(account)
        if account.provider == Provider.LINKEDIN and exc.retry_after is None:
            # LinkedIn quotas are daily and reset at midnight UTC; no header says when.
            until = next_utc_midnight(now)
        else:
            until = exc.retry_after or now + timedelta(minutes=15)
        if exc.scope == "app" and account.provider != Provider.LINKEDIN:
            key = "meta:app"
        writes.throttles[key] = {
            "key": key,
            "provider": account.provider,
            "throttled_until": until,
            "reason": exc.message[:500],
            "updated_at": now,
        }
        log.warning("insights.fetch.throttled", key=key, until=until.isoformat())
        for row in rows:
            self._fail(
                row,
                "throttled",
                f"throttled until {until.isoformat()}",
                now,
                writes,
                report,
                next_at=until,
            )

    # --- write -----------------------------------------------------------------------------

    async def _write(self, writes: _Writes) -> None:
        async with self.runtime.sessionmaker() as session, session.begin():
            await upsert_snapshots(
                session, writes.snapshots, bucket_seconds=self.settings.snapshot_bucket_seconds
            )
            if writes.external_updates:
                await _bulk_update(session, ScheduleExternal, writes.external_updates)
            if writes.account_updates:
                await _bulk_update(session, SocialAccount, list(writes.account_updates.values()))
            if writes.throttles:
                stmt = _insert_for(session)(ThrottleState)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        c: getattr(stmt.excluded, c)
                        for c in ("throttled_until", "reason", "updated_at")
                    },
                )
                await session.execute(stmt, list(writes.throttles.values()))
            if writes.fetched_schedules:
                await recompute_schedule_metrics(session, list(writes.fetched_schedules))
            await self.clients.save_rejections(session)


async def _bulk_update(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key, one statement per distinct set of columns."""
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_shape[tuple(sorted(row))].append(row)
    for group in by_shape.values():
        await session.execute(update(model), group)
