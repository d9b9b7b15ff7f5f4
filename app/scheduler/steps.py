"""The steps of one publish attempt, free of DBOS so they can be tested (and reasoned about)
one by one. `app.scheduler.engine` runs them as DBOS steps.

Each step loads the attempt, checks its phase, acts, and records the result in its own
transaction. A step re-executed after a crash finds the phase it left behind and carries on
from there; above all, `call` makes the create call only when it won READY -> CALLING, and a
re-executed `call` that finds CALLING reconciles instead (rule 1 of docs: the never-twice
discipline). Each returns an `Outcome`: what the workflow does next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from app.core.clock import utcnow
from app.core.runtime import Runtime
from app.integrations.errors import (
    OutcomeUnknownError,
    PlatformError,
    QuotaError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.models import AttemptPhase, ErrorKind, Provider, SettledBy, TargetState
from app.publishers.base import Publisher, ReadyStatus, ReconcileOutcome
from app.scheduler.quota import DEFAULT_WINDOW_S, QuotaGate
from app.services import publish_attempts as attempts
from app.services import publish_quota
from app.services.publish_attempts import AttemptKey, Failure
from app.services.publish_claims import PublishInput, load_publish_input

log = structlog.get_logger(__name__)

PublisherFor = Callable[[Provider], Publisher]
# Transient retries back off from this, doubling per attempt, up to RETRY_MAX.
RETRY_BASE_S = 5.0
RETRY_MAX_S = 300.0
UNKNOWN_MESSAGE = (
    "the platform did not confirm the post and it could be neither found nor ruled out "
    "before the settle bound; it may exist: check the account. Not retried automatically."
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the workflow does next: `wait` (media processing) and read the media's state
    again after `wait_s`, `call` (after the quota check, once `wait_s` has passed: the time
    left to `publish_at`), `quota` (read the quota again after `wait_s`), `reconcile` (after
    `wait_s`), `retry` / `absent` (a new attempt), or `done`."""

    next: str
    wait_s: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(**data)


DONE = Outcome("done")


def _until_publish_at(inp: PublishInput, now: datetime) -> float:
    """Seconds until the schedule's `publish_at` (0 once due): media is prepared ahead
    (`PUBLISH_PREPARE_AHEAD_SECONDS`), the create call is never made before its time."""
    if inp.publish_at is None:
        return 0.0
    return max((inp.publish_at - now).total_seconds(), 0.0)


def _resume(phase: AttemptPhase) -> Outcome:
    """Where a step that lost its compare-and-set (or is re-executed) picks up."""
    if phase == AttemptPhase.PREPARING:
        return Outcome("wait")
    if phase == AttemptPhase.READY:
        return Outcome("call")
    if phase == AttemptPhase.CALLING:
        return Outcome("reconcile")
    return DONE


class PublishSteps:
    def __init__(self, runtime: Runtime, publisher_for: PublisherFor, worker: str) -> None:
        self.runtime = runtime
        self.publisher_for = publisher_for
        self.worker = worker
        s = runtime.settings
        self.settle = timedelta(minutes=s.PUBLISH_SETTLE_MINUTES)
        self.quota = QuotaGate(runtime)
        self.max_attempts = s.PUBLISH_MAX_ATTEMPTS

    async def _load(self, key: AttemptKey) -> PublishInput | None:
        async with self.runtime.sessionmaker() as session:
            return await load_publish_input(session, key, self.runtime.cipher)

    async def _open(self, key: AttemptKey, phase: AttemptPhase) -> PublishInput | Outcome:
        """The attempt's input when it is in `phase`; otherwise where the workflow picks up
        (a re-executed step, or one that another execution or the sweep overtook)."""
        inp = await self._load(key)
        if inp is None:
            return DONE
        if inp.phase != phase:
            return _resume(inp.phase)
        return inp

    # --- before the call (redo-safe) ------------------------------------------------------

    async def prepare(self, key: AttemptKey) -> Outcome:
        """Uploads, containers, unpublished photos: safe to redo, so simply done again when
        a crash interrupted them."""
        inp = await self._open(key, AttemptPhase.PREPARING)
        if isinstance(inp, Outcome):
            return inp
        if not inp.account_usable:
            return await self._refused(
                key,
                inp,
                Failure(ErrorKind.RECONNECT_REQUIRED, "the account must be reconnected"),
                token=False,
            )
        publisher = self.publisher_for(inp.request.provider)
        try:
            prepared = await publisher.prepare(inp.request)
        except PlatformError as exc:
            return await self._platform_refusal(key, inp, exc)
        async with self.runtime.sessionmaker() as session, session.begin():
            stored = await attempts.store_prepared(session, key, prepared, worker=self.worker)
        if not stored:
            return DONE  # settled meanwhile (swept, or another execution finished it)
        return await self.check_ready(key)

    async def check_ready(self, key: AttemptKey) -> Outcome:
        """One status read of the prepared media; the workflow sleeps between reads."""
        inp = await self._open(key, AttemptPhase.PREPARING)
        if isinstance(inp, Outcome):
            return inp
        publisher = self.publisher_for(inp.request.provider)
        try:
            state = await publisher.check_ready(inp.request, inp.prepared)
        except TransientError:
            state = None  # a status read failed: read again later
        except PlatformError as exc:
            return await self._platform_refusal(key, inp, exc)
        now = utcnow()
        async with self.runtime.sessionmaker() as session, session.begin():
            if state is None or state.status == ReadyStatus.WAITING:
                wait = max(state.retry_after_s if state else RETRY_BASE_S, 0.1)
                await attempts.extend_settle(session, key, now + self.settle)
                return Outcome("wait", wait, state.detail if state else "status read failed")
            if state.status == ReadyStatus.READY:
                ok = await attempts.mark_ready(session, key)
                return Outcome("call", _until_publish_at(inp, now)) if ok else DONE
            if state.status == ReadyStatus.PUBLISHED:
                ok = await attempts.adopt_published(
                    session, key, now=now, settle=self.settle, worker=self.worker
                )
                return Outcome("reconcile", detail=state.detail) if ok else DONE
        assert state.error is not None
        return await self._platform_refusal(key, inp, state.error)

    # --- the publishing quota (read before the call) --------------------------------------

    async def check_quota(self, key: AttemptKey) -> Outcome:
        """Read the account's publishing quota live (where the platform has one) just before
        the call: a post that would exceed it waits for the window instead of failing."""
        inp = await self._open(key, AttemptPhase.READY)
        if isinstance(inp, Outcome):
            return inp
        early = _until_publish_at(inp, utcnow())
        if early > 0:  # prepared ahead, and this worker's clock says it is not yet time
            return Outcome("quota", early, "waiting for publish_at")
        try:
            quota = await self.publisher_for(inp.request.provider).quota(inp.request)
        except PlatformError as exc:
            # Not knowing is no reason to hold the post: a refusal for the quota (2207042)
            # still says when it is used up, and is answered by waiting too.
            log.info("publish.quota_unread", target_id=str(key.target_id), kind=exc.kind)
            return Outcome("call")
        if quota is None or not quota.exhausted:
            return Outcome("call")
        hours = f"{quota.window_s / 3600:g} h"
        why = f"{quota.used} of {quota.total} posts used in the last {hours}"
        return await self._wait_for_quota(key, inp, why, window_s=quota.window_s)

    async def _quota_refused(self, key: AttemptKey, inp: PublishInput, exc: QuotaError) -> Outcome:
        """The create was refused for the quota: an answer, so nothing was created. The
        attempt goes back to READY and waits, rather than failing once the deadline passes."""
        async with self.runtime.sessionmaker() as session, session.begin():
            undone = await publish_quota.undo_refused_call(session, key)
        if not undone:
            return DONE
        return await self._wait_for_quota(
            key,
            inp,
            f"refused: {exc.message}",
            window_s=DEFAULT_WINDOW_S,
            retry_after=exc.retry_after,
            code=Failure.of(exc).code,
        )

    async def _wait_for_quota(
        self, key: AttemptKey, inp: PublishInput, why: str, **plan: Any
    ) -> Outcome:
        wait = await self.quota.wait(key, inp, why, **plan)
        if wait is None:
            return DONE  # settled meanwhile (the sweep, or another execution)
        if wait.until is None:
            return await self._refused(key, inp, wait.failure, token=False)
        return Outcome("quota", wait.wait_s, wait.failure.message)

    # --- the irreversible call ------------------------------------------------------------

    async def call(self, key: AttemptKey) -> Outcome:
        """Rules 1 and 2. The engine runs this step with DBOS retries off."""
        inp = await self._load(key)
        if inp is None:
            return DONE
        now = utcnow()
        async with self.runtime.sessionmaker() as session, session.begin():
            won = await attempts.begin_call(
                session, key, now=now, settle=self.settle, worker=self.worker
            )
        if not won:
            # Already CALLING: this is a re-execution (or a late duplicate) of the step; the
            # call may have been made. Never call again: reconcile.
            current = await self._load(key)
            return _resume(current.phase) if current is not None else DONE
        publisher = self.publisher_for(inp.request.provider)
        try:
            result = await publisher.create(inp.request, inp.prepared)
        except OutcomeUnknownError as exc:
            return await self._to_reconcile(key, Failure.of(exc))
        except QuotaError as exc:
            return await self._quota_refused(key, inp, exc)
        except PlatformError as exc:
            if getattr(exc, "may_mean_posted", False):
                return await self._to_reconcile(key, Failure.of(exc))
            return await self._platform_refusal(key, inp, exc)
        except Exception as exc:  # noqa: BLE001 - anything after sending: the post may exist
            log.warning("publish.call.unexpected_error", error=type(exc).__name__)
            return await self._to_reconcile(
                key, Failure(ErrorKind.OUTCOME_UNKNOWN, f"unexpected error: {type(exc).__name__}")
            )
        async with self.runtime.sessionmaker() as session, session.begin():
            await attempts.record_created(
                session, key, result.primary, now=utcnow(), settled_by=SettledBy.REPLY
            )
        log.info("publish.posted", target_id=str(key.target_id), attempt=key.number)
        return DONE

    async def _to_reconcile(self, key: AttemptKey, failure: Failure) -> Outcome:
        async with self.runtime.sessionmaker() as session, session.begin():
            await attempts.note_call_error(session, key, failure)
        log.info("publish.outcome_unknown", target_id=str(key.target_id), kind=failure.kind)
        return Outcome("reconcile", detail=failure.message)

    # --- after an unknown outcome ---------------------------------------------------------

    async def reconcile(self, key: AttemptKey) -> Outcome:
        """Rule 3: FOUND -> posted; ABSENT -> a new attempt (or, after a refusal that may have
        meant posted, failed with it); INCONCLUSIVE -> look again until `settle_by`, then
        `unknown`, never retried automatically."""
        inp = await self._open(key, AttemptPhase.CALLING)
        if isinstance(inp, Outcome):
            return inp
        publisher = self.publisher_for(inp.request.provider)
        try:
            found = await publisher.reconcile(inp.request, inp.prepared)
            outcome, reason = found.outcome, found.reason
        except Exception as exc:  # noqa: BLE001 - a failed look proves nothing either way
            found, outcome, reason = None, ReconcileOutcome.INCONCLUSIVE, type(exc).__name__
        now = utcnow()
        async with self.runtime.sessionmaker() as session, session.begin():
            if outcome == ReconcileOutcome.FOUND and found is not None and found.ref is not None:
                await attempts.record_created(
                    session, key, found.ref, now=now, settled_by=SettledBy.RECONCILE_FOUND
                )
                return DONE
            if outcome == ReconcileOutcome.ABSENT:
                refused = inp.call_error_kind not in (None, ErrorKind.OUTCOME_UNKNOWN)
                failure = Failure(
                    inp.call_error_kind or ErrorKind.OUTCOME_UNKNOWN,
                    (inp.call_error or "no reply") + f" (not on the platform: {reason})",
                )
                await attempts.finish_attempt(
                    session,
                    key,
                    AttemptPhase.FAILED if refused else AttemptPhase.ABSENT,
                    now=now,
                    settled_by=SettledBy.RECONCILE_ABSENT,
                    failure=failure,
                )
                if refused:
                    await attempts.settle_target(session, key, TargetState.FAILED, failure)
                    return DONE
                return Outcome("absent", detail=reason)
            if inp.settle_by is not None and now < inp.settle_by:
                left = (inp.settle_by - now).total_seconds()
                return Outcome("reconcile", wait_s=left, detail=reason)
            failure = Failure(ErrorKind.OUTCOME_UNKNOWN, f"{UNKNOWN_MESSAGE} ({reason})")
            await attempts.finish_attempt(
                session,
                key,
                AttemptPhase.UNKNOWN,
                now=now,
                settled_by=SettledBy.RECONCILE_INCONCLUSIVE,
                failure=failure,
            )
            await attempts.settle_target(session, key, TargetState.UNKNOWN, failure)
        return DONE

    # --- refusals, retries, the sweep -----------------------------------------------------

    async def _platform_refusal(
        self, key: AttemptKey, inp: PublishInput, exc: PlatformError
    ) -> Outcome:
        """Rule 4: transient refusals (nothing created) retry within the deadline; permanent
        ones fail the target with the platform's message; token errors mark the account."""
        failure = Failure.of(exc)
        if isinstance(exc, TransientError):
            now = utcnow()
            async with self.runtime.sessionmaker() as session, session.begin():
                await attempts.finish_attempt(
                    session,
                    key,
                    AttemptPhase.FAILED,
                    now=now,
                    settled_by=SettledBy.REPLY,
                    failure=failure,
                )
            return Outcome("retry", self._retry_wait(exc, inp.attempts_in_run, now))
        return await self._refused(key, inp, failure, token=isinstance(exc, TokenError))

    async def _refused(
        self, key: AttemptKey, inp: PublishInput, failure: Failure, *, token: bool
    ) -> Outcome:
        async with self.runtime.sessionmaker() as session, session.begin():
            await attempts.finish_attempt(
                session,
                key,
                AttemptPhase.FAILED,
                now=utcnow(),
                settled_by=SettledBy.REPLY,
                failure=failure,
            )
            await attempts.settle_target(session, key, TargetState.FAILED, failure)
            if token:
                await attempts.mark_reconnect_required(session, inp.account_id, failure.message)
        log.info("publish.failed", target_id=str(key.target_id), kind=failure.kind)
        return DONE

    @staticmethod
    def _retry_wait(exc: TransientError, attempts_made: int, now: datetime) -> float:
        if isinstance(exc, ThrottledError) and exc.retry_after is not None:
            return min(max((exc.retry_after - now).total_seconds(), 0.0), 24 * 3600.0)
        return float(min(RETRY_BASE_S * 2 ** max(attempts_made - 1, 0), RETRY_MAX_S))

    async def next_attempt(self, key: AttemptKey, *, transient: bool) -> int | None:
        async with self.runtime.sessionmaker() as session, session.begin():
            return await attempts.open_next_attempt(
                session,
                key,
                now=utcnow(),
                settle=self.settle,
                max_attempts=self.max_attempts,
                deadline_applies=transient,
            )

    async def extend(self, key: AttemptKey) -> None:
        """A swept target whose workflow only waits in the queue is not stuck."""
        async with self.runtime.sessionmaker() as session, session.begin():
            await attempts.extend_settle(session, key, utcnow() + self.settle)

    async def restart(self, key: AttemptKey) -> int | None:
        """Rule 5, an attempt that never reached the call: nothing was sent, so it is closed
        as absent and a new one started (bounded like any other)."""
        now = utcnow()
        async with self.runtime.sessionmaker() as session, session.begin():
            await attempts.finish_attempt(
                session,
                key,
                AttemptPhase.ABSENT,
                now=now,
                settled_by=SettledBy.DEADLINE,
                failure=Failure(ErrorKind.TRANSIENT, "not called before the settle bound"),
            )
            return await attempts.open_next_attempt(
                session,
                key,
                now=now,
                settle=self.settle,
                max_attempts=self.max_attempts,
                deadline_applies=False,
            )

    async def give_up(self, key: AttemptKey, reason: str) -> None:
        """Rule 5, a CALLING attempt whose reconciliation could not run to its end."""
        failure = Failure(ErrorKind.OUTCOME_UNKNOWN, f"{UNKNOWN_MESSAGE} ({reason})")
        async with self.runtime.sessionmaker() as session, session.begin():
            if await attempts.finish_attempt(
                session,
                key,
                AttemptPhase.UNKNOWN,
                now=utcnow(),
                settled_by=SettledBy.DEADLINE,
                failure=failure,
            ):
                await attempts.settle_target(session, key, TargetState.UNKNOWN, failure)
