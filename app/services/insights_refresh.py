"""Refresh tracked posts: fetch from the platform, map, upsert snapshots, recompute analytics.

Used by the insights API ("fetch now") and by the background poller (one call per account
batch). Reads happen in a short transaction, platform calls outside any transaction, and all
writes in one write-first transaction, so SQLite's single writer is never held across HTTP.

When the database refuses that transaction (read-only, full, gone), the batch does not fail
as a whole: every post is reported with the `storage` error kind, and a second, separate
transaction puts the poller's claim back (the posts are due again at once, not after the
30-minute lease) and records the error, so the summary counts it and the metrics say stale.
If that write fails too, the refresher keeps the posts and tries again before its next batch
and before the poller's next claim (`release_unreleased`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import jsonfast
from app.core.runtime import Runtime
from app.core.security import TokenDecryptError
from app.integrations.errors import PlatformError, ThrottledError, TokenError
from app.integrations.limits import QuotaCaller, quota_caller
from app.integrations.platforms import MetricsRequest, platform_for
from app.integrations.types import PostFetchResult
from app.models import (
    AccountStatus,
    ErrorKind,
    ExternalStatus,
    MetricsSource,
    PostMetrics,
    ScheduleExternal,
    SocialAccount,
    ThrottleState,
)
from app.models.base import utcnow
from app.services.accounts import account_status
from app.services.insights_mapper import generate_fake_metrics, map_post_metrics
from app.services.insights_store import Snapshot
from app.services.platform_clients import PlatformClients, build_platform_clients
from app.services.quota_shares import AppShares, load_shares
from app.services.refresh_ledger import (
    AccountRef,
    PostOutcome,
    PostRow,
    RefreshLedger,
    RefreshReport,
)

__all__ = ["InsightsRefresher", "PostOutcome", "RefreshReport", "open_refresher"]

log = structlog.get_logger(__name__)

# Posts kept in memory whose storage failure could not be written down either; past this many
# the oldest are dropped (their claim's lease frees them, as before).
MAX_UNRELEASED = 100_000
_RELEASE_CHUNK = 5000


@dataclass
class _Unreleased:
    """Posts whose refresh could not be stored, not yet marked so in the database."""

    ids: list[uuid.UUID]
    claimed_until: datetime | None  # the poller's lease they are held by, None for an API fetch
    message: str


def storage_error_message(exc: SQLAlchemyError) -> str:
    """What the database said, without SQL or parameters (SQLAlchemy's text carries both, and
    the parameters are metric payloads)."""
    orig = getattr(exc, "orig", None) or exc
    first_line = (str(orig).strip().splitlines() or [""])[0]
    return f"the database refused the write ({type(orig).__name__}: {first_line[:200]})"


@dataclass
class _Loaded:
    """The batch as read from the database before any platform call."""

    groups: list[tuple[AccountRef | None, list[PostRow]]] = field(default_factory=list)
    throttled: dict[str, datetime] = field(default_factory=dict)
    has_real: set[uuid.UUID] = field(default_factory=set)
    shares: dict[str, AppShares] = field(default_factory=dict)  # read when first needed

    def throttled_until(self, account: AccountRef) -> datetime | None:
        for key in account.pause_keys:
            if (until := self.throttled.get(key)) is not None:
                return until
        return None


async def open_refresher(
    runtime: Runtime, session: AsyncSession, *, transport: httpx.AsyncBaseTransport | None = None
) -> InsightsRefresher:
    """A refresher on new pooled platform clients that know the remembered metric rejections
    (the caller closes them: `refresher.clients.aclose()`)."""
    clients = build_platform_clients(runtime.settings, transport=transport)
    await clients.load_rejections(session)
    return InsightsRefresher(runtime, clients)


def clean_payload(value: Any, *, secrets: tuple[str, ...]) -> Any:
    """The raw response as stored: no credential (platforms echo them in paging URLs), no
    `paging` objects, and no NUL character (PostgreSQL JSONB refuses it)."""
    text = jsonfast.dumps_bytes(value)
    if (
        b'"paging"' not in text
        and b"\\u0000" not in text
        and not any(s.encode() in text for s in secrets if s)
    ):
        return value  # the common case: nothing to remove, skip the walk
    return _clean(value, secrets)


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, "***")
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _clean(v, secrets) for k, v in value.items() if k != "paging"}
    if isinstance(value, list):
        return [_clean(v, secrets) for v in value]
    return value


class InsightsRefresher:
    """Refreshes batches of tracked posts with the process's platform clients."""

    def __init__(self, runtime: Runtime, clients: PlatformClients) -> None:
        self.runtime = runtime
        self.clients = clients
        self.settings = runtime.settings
        self._unreleased: list[_Unreleased] = []

    async def refresh(
        self,
        external_row_ids: Sequence[uuid.UUID],
        *,
        now: datetime | None = None,
        claimed_until: datetime | None = None,
    ) -> RefreshReport:
        """Fetch and store metrics for these `schedule_external` rows (any accounts).

        With `claimed_until` (the poller's lease), rows no longer held by that claim are
        skipped: they were fetched meanwhile or belong to a newer claim.
        """
        await self.release_unreleased()
        ledger = RefreshLedger(self.settings, now or utcnow())
        try:
            loaded = await self._load(external_row_ids, ledger.now, claimed_until)
        except SQLAlchemyError as exc:
            message = storage_error_message(exc)
            ledger.report.unloaded_storage_errors = len(external_row_ids)
            await self._release(list(external_row_ids), claimed_until, message, ledger.now)
            return ledger.report
        for account, rows in loaded.groups:
            await self._refresh_account(account, rows, loaded, ledger)
        try:
            async with self.runtime.sessionmaker() as session, session.begin():
                await ledger.persist(session, self.clients)
        except SQLAlchemyError as exc:
            message = storage_error_message(exc)
            rows = [row for _, group in loaded.groups for row in group]
            retry_at = ledger.now if claimed_until is not None else None
            ledger.storage_failed(rows, message, retry_at=retry_at)
            await self._release([r.id for r in rows], claimed_until, message, ledger.now)
        return ledger.report

    async def _release(
        self, ids: list[uuid.UUID], claimed_until: datetime | None, message: str, now: datetime
    ) -> None:
        """After a failed store: record the error and put the claim back, in a transaction of
        its own; kept for a later try when the database refuses this too."""
        log.error("insights.store.failed", posts=len(ids), error=message)
        entry = _Unreleased(ids, claimed_until, message)
        if not await self._write_release(entry, now):
            self._unreleased.append(entry)
            while sum(len(e.ids) for e in self._unreleased) > MAX_UNRELEASED:
                dropped = self._unreleased.pop(0)
                log.warning("insights.store.release_dropped", posts=len(dropped.ids))

    async def release_unreleased(self, now: datetime | None = None) -> int:
        """Write down earlier storage failures the database refused then; returns how many
        posts were released, due again at `now` (the poller calls this before every claim)."""
        released = 0
        now = now or utcnow()
        while True:
            # Taken off the list before the write, in one step: batches run this concurrently
            # (every refresh starts with it). Two callers used to write the same entry and each
            # pop one afterwards, the second another's entry or none (IndexError, in CI).
            try:
                entry = self._unreleased.pop(0)
            except IndexError:
                break
            written = False
            try:
                written = await self._write_release(entry, now)
            finally:
                if not written:
                    # Refused, or raised (cancelled; a connection error the driver did not
                    # wrap): still owed, first in line again.
                    self._unreleased.insert(0, entry)
            if not written:
                break
            released += len(entry.ids)
        if released:
            log.info("insights.store.released_later", posts=released)
        return released

    async def _write_release(self, entry: _Unreleased, now: datetime) -> bool:
        ext = ScheduleExternal
        values: dict[str, Any] = {
            "last_error_kind": ErrorKind.STORAGE,
            "last_error": entry.message[:1000],
            "consecutive_failures": ext.consecutive_failures + 1,
        }
        if entry.claimed_until is not None:
            values["next_fetch_at"] = now  # due again at once: the lease is not waited out
        try:
            async with self.runtime.sessionmaker() as session, session.begin():
                for start in range(0, len(entry.ids), _RELEASE_CHUNK):
                    stmt = update(ext).where(
                        ext.id.in_(entry.ids[start : start + _RELEASE_CHUNK]),
                        ext.status == ExternalStatus.LIVE,
                    )
                    if entry.claimed_until is not None:
                        # Only posts this claim still holds (not re-claimed meanwhile).
                        stmt = stmt.where(ext.next_fetch_at == entry.claimed_until)
                    await session.execute(
                        stmt.values(values).execution_options(synchronize_session=False)
                    )
        except SQLAlchemyError as exc:
            log.error(
                "insights.store.release_failed",
                posts=len(entry.ids),
                error=storage_error_message(exc),
                kept=True,
            )
            return False
        return True

    async def _load(
        self, ids: Sequence[uuid.UUID], now: datetime, claimed_until: datetime | None
    ) -> _Loaded:
        loaded = _Loaded()
        async with self.runtime.sessionmaker() as session:
            # Plain columns, not ORM objects: this runs for every batch the poller fetches.
            ext, acc = ScheduleExternal, SocialAccount
            result = await session.execute(
                select(
                    ext.id,
                    ext.schedule_id,
                    ext.provider,
                    ext.external_id,
                    ext.media_type,
                    ext.published_at,
                    ext.consecutive_failures,
                    ext.last_error_kind,
                    ext.status,
                    ext.next_fetch_at,
                    acc.id.label("acc_id"),
                    acc.provider.label("acc_provider"),
                    acc.external_id.label("acc_external_id"),
                    acc.status.label("acc_status"),
                    acc.token_expires_at.label("acc_token_expires_at"),
                    acc.access_token_enc,
                    acc.workspace_id.label("acc_workspace_id"),
                )  # fmt: skip
                .outerjoin(acc, ext.account_id == acc.id)
                .where(ext.id.in_(ids))
            )
            by_account: dict[uuid.UUID | None, tuple[AccountRef | None, list[PostRow]]] = {}
            for r in result:
                if r.status != ExternalStatus.LIVE:
                    continue
                if claimed_until is not None and r.next_fetch_at != claimed_until:
                    continue
                if r.acc_id not in by_account:
                    ref = (
                        AccountRef(
                            r.acc_id,
                            r.acc_provider,
                            r.acc_external_id,
                            account_status(r.acc_status, r.acc_token_expires_at, now=now),
                            r.access_token_enc,
                            r.acc_workspace_id,
                            r.acc_id in self.clients.app_scoped_accounts,
                        )
                        if r.acc_id is not None
                        else None
                    )
                    by_account[r.acc_id] = (ref, [])
                by_account[r.acc_id][1].append(
                    PostRow(
                        r.id,
                        r.schedule_id,
                        r.provider,
                        r.external_id,
                        r.media_type,
                        r.published_at,
                        r.consecutive_failures,
                        r.last_error_kind,
                    )
                )
            loaded.groups = list(by_account.values())
            for state in await session.scalars(
                select(ThrottleState).where(ThrottleState.throttled_until > now)
            ):
                if state.throttled_until is not None:
                    loaded.throttled[state.key] = state.throttled_until
            if self.settings.FEATURE_FAKE_INSIGHTS:
                schedule_ids = [r.schedule_id for _, rows in loaded.groups for r in rows]
                loaded.has_real = set(
                    await session.scalars(
                        select(PostMetrics.schedule_id)
                        .where(
                            PostMetrics.schedule_id.in_(schedule_ids),
                            PostMetrics.source != MetricsSource.FAKE,
                        )
                        .distinct()
                    )
                )
        return loaded

    async def _refresh_account(
        self,
        account: AccountRef | None,
        rows: list[PostRow],
        loaded: _Loaded,
        ledger: RefreshLedger,
    ) -> None:
        if account is None or account.status == AccountStatus.DISABLED:
            for row in rows:
                message = "the account was removed or disabled"
                ledger.fail(row, ErrorKind.ACCOUNT_DISCONNECTED, message, next_at=None)
            return
        if account.status == AccountStatus.RECONNECT_REQUIRED:
            for row in rows:
                message = "the account needs to be reconnected"
                ledger.fail(row, ErrorKind.RECONNECT_REQUIRED, message)
            return
        if self.settings.FEATURE_FAKE_INSIGHTS:
            self._fake(rows, loaded.has_real, ledger)
            return
        until = loaded.throttled_until(account)
        if until is not None:
            ledger.defer_throttled(rows, until)
            return
        if account.app_scoped and (until := await self._share_used_up(account, loaded, ledger)):
            ledger.defer_throttled(rows, until)
            return
        try:
            token = self.runtime.cipher.decrypt(account.token_enc)
        except TokenDecryptError as exc:
            ledger.account_broken(account, str(exc), rows)
            return
        share = account.share_key
        caller = QuotaCaller(share, app_scoped=account.app_scoped or None) if share else None
        reset = quota_caller.set(caller)
        try:
            results = await self._fetch(account, token, rows)
        except TokenError as exc:
            ledger.account_broken(account, exc.message, rows)
            return
        except ThrottledError as exc:
            app_wide = await self._count_app_calls(account, caller, loaded, ledger)
            ledger.throttled(account, exc, rows, app_wide=app_wide)
            return
        except PlatformError as exc:
            await self._count_app_calls(account, caller, loaded, ledger)
            for row in rows:
                ledger.fail(row, exc.kind, exc.message)
            return
        finally:
            quota_caller.reset(reset)
        app_wide = await self._count_app_calls(account, caller, loaded, ledger)
        self._absorb(account, token, rows, results, ledger, app_wide=app_wide)
        if caller is not None and caller.app_scoped:
            await self._share_used_up(account, loaded, ledger, reported=caller.app_percent)

    async def _shares(self, account: AccountRef, loaded: _Loaded, now: datetime) -> AppShares:
        app_key = account.app_key
        assert app_key is not None
        if (shares := loaded.shares.get(app_key)) is None:
            async with self.runtime.sessionmaker() as session:
                shares = await load_shares(
                    session,
                    app_key=app_key,
                    fraction=self.settings.META_APP_WORKSPACE_SHARE,
                    now=now,
                )
            loaded.shares[app_key] = shares
        return shares

    async def _count_app_calls(
        self,
        account: AccountRef,
        caller: QuotaCaller | None,
        loaded: _Loaded,
        ledger: RefreshLedger,
    ) -> bool:
        """After a fetch: attribute its calls to the workspace when they count against the
        app's quota (learning so for this account); returns whether an app-level refusal of
        them pauses the whole app (`AppShares.app_wide`)."""
        if caller is None or not caller.app_scoped or account.workspace_id is None:
            return False
        self.clients.app_scoped_accounts.add(account.id)
        account.app_scoped = True
        app_key = account.app_key
        assert app_key is not None
        ledger.app_scoped_calls(app_key, account.workspace_id, caller.calls, caller.app_percent)
        shares = await self._shares(account, loaded, ledger.now)
        shares.add(account.workspace_id, caller.calls, caller.app_percent)
        return shares.app_wide(account.workspace_id)

    async def _share_used_up(
        self,
        account: AccountRef,
        loaded: _Loaded,
        ledger: RefreshLedger,
        *,
        reported: float | None = None,
    ) -> datetime | None:
        """Pause the workspace's share when its calls account for more of the app's budget
        than its share, or the app's budget is spent (`reported` 100 % on its own call)."""
        if account.workspace_id is None or account.app_key is None:
            return None
        shares = await self._shares(account, loaded, ledger.now)
        used = shares.used_by(account.workspace_id)
        spent = reported is not None and reported >= 100.0
        if not (shares.over_share(account.workspace_id) or spent):
            return None
        return ledger.share_used_up(account, used, shares.cap_percent)

    async def _fetch(
        self, account: AccountRef, token: str, rows: list[PostRow]
    ) -> dict[str, PostFetchResult]:
        request = MetricsRequest(
            token,
            account.external_id,
            [r.external_id for r in rows],
            {r.external_id: r.media_type for r in rows if r.media_type},
        )
        return await platform_for(account.provider).fetch_metrics(self.clients, request)

    def _absorb(
        self,
        account: AccountRef,
        token: str,
        rows: list[PostRow],
        results: dict[str, PostFetchResult],
        ledger: RefreshLedger,
        *,
        app_wide: bool = False,
    ) -> None:
        for row in rows:
            result = results.get(row.external_id)
            if result is None:
                ledger.fail(row, ErrorKind.TRANSIENT, "no result for this post")
            elif result.ok and result.payload is not None:
                ledger.stored(row, self._snapshot(row, result, ledger.now, token))
            elif isinstance(result.error, TokenError):
                ledger.account_broken(account, result.error.message, [row])
            elif isinstance(result.error, ThrottledError):
                ledger.throttled(account, result.error, [row], app_wide=app_wide)
            elif result.error is None:
                ledger.fail(row, ErrorKind.TRANSIENT, "empty result")
            elif result.error.kind == ErrorKind.NOT_FOUND:
                ledger.not_found(row, result.error.message)
            else:
                ledger.fail(row, result.error.kind, result.error.message)

    def _snapshot(
        self,
        row: PostRow,
        result: PostFetchResult,
        now: datetime,
        token: str,
    ) -> Snapshot:
        assert result.payload is not None
        media_type = result.media_type or row.media_type
        values = map_post_metrics(
            row.provider.value,
            result.payload,
            media_type=media_type,
            linkedin_fields=self.clients.linkedin.config.stats_fields,
        )
        home = platform_for(row.provider)
        source, version = home.metrics_source, home.api_version(self.settings)
        return Snapshot(
            schedule_id=row.schedule_id,
            provider=row.provider,
            captured_at=now,
            values=values,
            source=source,
            api_version=version,
            media_type=media_type,
            raw=clean_payload(result.payload, secrets=(token,)),
        )

    def _fake(self, rows: list[PostRow], has_real: set[uuid.UUID], ledger: RefreshLedger) -> None:
        for row in rows:
            if row.schedule_id in has_real:
                # Fake numbers never stand in for real ones.
                message = "real metrics exist; fake generation skipped"
                ledger.fail(row, ErrorKind.REAL_DATA_EXISTS, message)
                continue
            age = (ledger.now - (row.published_at or ledger.now)).total_seconds() / 3600
            values = generate_fake_metrics(
                row.provider.value, row.external_id, age, media_type=row.media_type
            )
            ledger.stored(
                row,
                Snapshot(
                    schedule_id=row.schedule_id,
                    provider=row.provider,
                    captured_at=ledger.now,
                    values=values,
                    source=MetricsSource.FAKE,
                    media_type=row.media_type,
                ),
            )
