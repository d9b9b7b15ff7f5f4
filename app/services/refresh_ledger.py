"""What one refresh decided, post by post, and the single transaction that writes it down."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.integrations.errors import ThrottledError
from app.integrations.platforms import platform_for
from app.models import (
    AccountStatus,
    ErrorKind,
    ExternalStatus,
    MetricsSource,
    Provider,
    ScheduleExternal,
    SocialAccount,
    ThrottleState,
)
from app.services.insights_store import (
    Snapshot,
    insert_for,
    recompute_schedule_metrics,
    upsert_snapshots,
)
from app.services.platform_clients import PlatformClients
from app.services.poll_cadence import error_backoff, next_fetch_at
from app.services.quota_shares import SHARE_PAUSE, record_calls, share_key

log = structlog.get_logger(__name__)

NOT_FOUND_STRIKES = 3


@dataclass(frozen=True, slots=True)
class PostOutcome:
    external_row_id: uuid.UUID
    schedule_id: uuid.UUID
    provider: Provider
    status: str  # fetched | error
    error_kind: ErrorKind | None = None
    message: str | None = None
    retry_at: datetime | None = None
    source: MetricsSource | None = None


@dataclass
class RefreshReport:
    outcomes: list[PostOutcome] = field(default_factory=list)
    # Posts of a batch the database could not even read (no outcome per post to report).
    unloaded_storage_errors: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def error_counts(self) -> dict[ErrorKind, int]:
        """Posts per error kind."""
        counts = Counter(o.error_kind for o in self.outcomes if o.error_kind)
        if self.unloaded_storage_errors:
            counts[ErrorKind.STORAGE] += self.unloaded_storage_errors
        return dict(counts)


@dataclass
class PostRow:
    """What a refresh needs of one tracked post (read before any platform call)."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    provider: Provider
    external_id: str
    media_type: str | None
    published_at: datetime | None
    consecutive_failures: int
    last_error_kind: ErrorKind | None = None


def throttle_key_for(account_id: uuid.UUID) -> str:
    return f"account:{account_id}"


@dataclass
class AccountRef:
    id: uuid.UUID
    provider: Provider
    external_id: str
    status: AccountStatus
    token_enc: str
    workspace_id: uuid.UUID | None = None
    # Its token's calls count against the platform's app-wide quota (a Meta user token; a
    # page token's do not), as this process learned from the platform's replies.
    app_scoped: bool = False

    @property
    def throttle_key(self) -> str:
        # Per connected account: another workspace connecting the same page id must
        # neither see nor cause this account's pauses.
        return throttle_key_for(self.id)

    @property
    def app_key(self) -> str | None:
        """The platform's app-wide quota key (None: the platform has none, LinkedIn)."""
        keys = platform_for(self.provider).app_throttle_keys
        return keys[0] if keys else None

    @property
    def share_key(self) -> str | None:
        """The key of this account's workspace's share of the app-wide quota."""
        app_key = self.app_key
        if app_key is None or self.workspace_id is None:
            return None
        return share_key(app_key, self.workspace_id)

    @property
    def pause_keys(self) -> tuple[str, ...]:
        """The throttle keys whose pause also pauses this account (its own first). The
        app-wide key and the workspace's share of it pause only accounts whose calls count
        against the app's quota: never a page token's."""
        if not self.app_scoped:
            return (self.throttle_key,)
        share = self.share_key
        app_keys = platform_for(self.provider).app_throttle_keys
        return (self.throttle_key, *([share] if share else []), *app_keys)


class RefreshLedger:
    """Collects outcomes and the rows to write; `persist` writes them in one transaction."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.report = RefreshReport()
        self.snapshots: list[Snapshot] = []
        self.external_updates: list[dict[str, Any]] = []
        self.account_updates: dict[uuid.UUID, dict[str, Any]] = {}
        self.throttles: dict[str, dict[str, Any]] = {}
        self.fetched_schedules: set[uuid.UUID] = set()
        # App-scoped calls per (app key, workspace): (calls, highest app usage reported).
        self.app_calls: dict[str, dict[uuid.UUID, tuple[int, float | None]]] = {}

    def stored(self, row: PostRow, snapshot: Snapshot) -> None:
        """A snapshot was taken: schedule the next poll by the cadence."""
        s = self.settings
        self.snapshots.append(snapshot)
        self.external_updates.append(
            {
                "id": row.id,
                "media_type": snapshot.media_type,
                "last_fetched_at": self.now,
                "next_fetch_at": next_fetch_at(
                    row.published_at,
                    self.now,
                    hours=s.INSIGHTS_POLL_INTERVAL_HOURS,
                    decay=s.INSIGHTS_POLL_DECAY,
                    max_age_days=s.INSIGHTS_MAX_AGE_DAYS,
                ),
                "last_error_kind": None,
                "last_error": None,
                "consecutive_failures": 0,
            }
        )
        self.fetched_schedules.add(row.schedule_id)
        self.report.outcomes.append(
            PostOutcome(row.id, row.schedule_id, row.provider, "fetched", source=snapshot.source)
        )

    def fail(
        self,
        row: PostRow,
        kind: ErrorKind,
        message: str,
        *,
        next_at: datetime | None | bool = True,
        deleted: bool = False,
    ) -> None:
        """Record an error; `next_at=True` backs off exponentially, None stops polling (as
        does `deleted`: a deleted post has no retry time to report)."""
        if deleted:
            next_at = None
        if next_at is True:
            next_at = error_backoff(row.consecutive_failures, self.now)
        retry_at = next_at if isinstance(next_at, datetime) else None
        update_row: dict[str, Any] = {
            "id": row.id,
            "last_error_kind": kind,
            "last_error": message[:1000],
            "consecutive_failures": row.consecutive_failures + 1,
            "next_fetch_at": retry_at,
        }
        if deleted:
            update_row["status"] = ExternalStatus.DELETED  # deleted posts stop being polled
        self.external_updates.append(update_row)
        self.report.outcomes.append(
            PostOutcome(row.id, row.schedule_id, row.provider, "error", kind, message, retry_at)
        )
        log.debug("insights.fetch.post_failed", provider=row.provider.value, kind=kind)

    def not_found(self, row: PostRow, message: str) -> None:
        """Graph answers "does not exist" for missing permissions too: a post is taken for
        deleted (and no longer polled) only after NOT_FOUND_STRIKES answers in a row."""
        repeated = row.last_error_kind == ErrorKind.NOT_FOUND
        strikes = row.consecutive_failures + 1 if repeated else 1
        if strikes >= NOT_FOUND_STRIKES:
            self.fail(row, ErrorKind.DELETED, message, deleted=True)
        else:
            self.fail(row, ErrorKind.NOT_FOUND, message)

    def account_broken(self, account: AccountRef, message: str, rows: list[PostRow]) -> None:
        """Token errors mark the account at once; its posts are retried at the normal interval
        (by then it may be reconnected)."""
        self.account_updates[account.id] = {
            "id": account.id,
            "status": AccountStatus.RECONNECT_REQUIRED,
            "last_error": message[:1000],
            "updated_at": self.now,
        }
        log.warning(
            "insights.account.reconnect_required",
            account_id=str(account.id),
            provider=account.provider.value,
        )
        later = self.now + timedelta(hours=self.settings.INSIGHTS_POLL_INTERVAL_HOURS)
        for row in rows:
            self.fail(row, ErrorKind.RECONNECT_REQUIRED, message, next_at=later)

    def throttled(
        self,
        account: AccountRef,
        exc: ThrottledError,
        rows: list[PostRow],
        *,
        app_wide: bool = False,
    ) -> None:
        """Pause the account's key until the platform says, or as long as its home judges
        without a hint. An app-level limit pauses the workspace's share of the app's quota,
        and the platform's app-wide key only when `app_wide` (see `AppShares.app_wide`)."""
        home = platform_for(account.provider)
        key = home.throttle_key(exc, account.throttle_key)
        share = account.share_key
        if exc.scope in ("app", "workspace") and share is not None:
            key = key if exc.scope == "app" and app_wide else share
        until = home.throttled_until(exc, self.now)
        self._pause(key, account.provider, until, exc.message)
        self.defer_throttled(rows, until)

    def share_used_up(self, account: AccountRef, used: float, cap: float) -> datetime | None:
        """The workspace used its share of the app's quota: its app-scoped accounts wait (a
        bucket's worth of its calls leaves the window meanwhile). Returns until when."""
        share = account.share_key
        if share is None:
            return None
        until = self.now + SHARE_PAUSE
        reason = (
            f"this workspace's share of the app's quota is used up ({used:.0f} % of the "
            f"app's budget, its share {cap:.0f} %)"
        )
        self._pause(share, account.provider, until, reason)
        return until

    def _pause(self, key: str, provider: Provider, until: datetime, reason: str) -> None:
        self.throttles[key] = {
            "key": key,
            "provider": provider,
            "throttled_until": until,
            "reason": reason[:500],
            "updated_at": self.now,
        }
        log.warning("insights.fetch.throttled", key=key, until=until.isoformat())

    def app_scoped_calls(
        self, app_key: str, workspace_id: uuid.UUID, calls: int, app_percent: float | None
    ) -> None:
        """Attribute calls made against the app-wide quota to their workspace."""
        per_ws = self.app_calls.setdefault(app_key, {})
        before, best = per_ws.get(workspace_id, (0, None))
        if app_percent is not None:
            best = app_percent if best is None else max(best, app_percent)
        per_ws[workspace_id] = (before + calls, best)

    def storage_failed(
        self, rows: list[PostRow], message: str, *, retry_at: datetime | None
    ) -> None:
        """The write transaction failed: nothing of this batch was stored, whatever the
        platform answered, so every post reports the storage error instead."""
        self.report.outcomes = [
            PostOutcome(
                r.id, r.schedule_id, r.provider, "error", ErrorKind.STORAGE, message, retry_at
            )
            for r in rows
        ]

    def defer_throttled(self, rows: list[PostRow], until: datetime) -> None:
        for row in rows:
            message = f"throttled until {until.isoformat()}"
            self.fail(row, ErrorKind.THROTTLED, message, next_at=until)

    async def persist(self, session: AsyncSession, clients: PlatformClients) -> None:
        """Write everything, snapshots first (write-first keeps SQLite's lock short)."""
        await upsert_snapshots(
            session, self.snapshots, bucket_seconds=self.settings.snapshot_bucket_seconds
        )
        if self.external_updates:
            await _bulk_update(session, ScheduleExternal, self.external_updates)
        if self.account_updates:
            await _bulk_update(session, SocialAccount, list(self.account_updates.values()))
        if self.throttles:
            stmt = insert_for(session)(ThrottleState)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    c: getattr(stmt.excluded, c)
                    for c in ("throttled_until", "reason", "updated_at")
                },
            )
            await session.execute(stmt, list(self.throttles.values()))
        for app_key, calls in self.app_calls.items():
            await record_calls(session, app_key=app_key, calls=calls, now=self.now)
        if self.fetched_schedules:
            await recompute_schedule_metrics(session, list(self.fetched_schedules))
        await clients.save_rejections(session)


async def _bulk_update(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """UPDATE ... WHERE id = ? as one executemany per distinct set of columns (Core, without
    the ORM's per-row bulk-update bookkeeping, which showed in the poller's profile)."""
    table = model.__table__
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: str(r["id"])):  # one lock order for all writers
        by_shape[tuple(sorted(row))].append({f"b_{k}": v for k, v in row.items()})
    for shape, group in by_shape.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in shape if k != "id"})
        )
        await session.execute(stmt, group)
