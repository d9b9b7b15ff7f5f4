"""The attempt state machine: every move of a publish attempt is a compare-and-set UPDATE.

Why compare-and-set: DBOS runs a step at least once, a swept target may be picked up while a
slow worker still holds it, and several workers share the queue. Each transition names the
phase it expects (`WHERE phase = ...`) and reports whether it won; only a winner acts. The
irreversible create call is made only by the winner of `begin_call` (READY -> CALLING), and
the CALLING row is committed before the call, so a crash or a re-executed step after it can
only reconcile, never call again.

Functions here flush and never commit: each engine step is one transaction (its caller's).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.errors import PlatformError
from app.models import (
    AccountStatus,
    AttemptPhase,
    ErrorKind,
    PublishAttempt,
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
    SettledBy,
    SocialAccount,
    TargetState,
)
from app.publishers.base import ExternalRef, store_external_reference

FINAL_TARGET_STATES = frozenset({TargetState.POSTED, TargetState.FAILED, TargetState.UNKNOWN})
OPEN_PHASES = frozenset({AttemptPhase.PREPARING, AttemptPhase.READY, AttemptPhase.CALLING})
MESSAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AttemptKey:
    """One attempt of one target (what workflow ids and step arguments are made of)."""

    target_id: uuid.UUID
    number: int


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt or a target failed, as stored and shown."""

    kind: ErrorKind
    message: str
    code: str | None = None

    @classmethod
    def of(cls, exc: PlatformError) -> Failure:
        code = exc.code if exc.subcode is None else f"{exc.code}/{exc.subcode}"
        return cls(exc.kind, exc.message, None if code is None else str(code)[:64])

    def attempt_values(self) -> dict[str, Any]:
        """The attempt's error columns."""
        return {
            "error_kind": self.kind,
            "error_code": self.code,
            "error_message": self.message[:MESSAGE_LIMIT],
        }


def derive_status(states: Sequence[TargetState]) -> ScheduleStatus:
    """A publishing schedule's status from its targets (the rule the README states)."""
    if not states or any(s not in FINAL_TARGET_STATES for s in states):
        return ScheduleStatus.PUBLISHING
    posted = sum(1 for s in states if s == TargetState.POSTED)
    if posted == len(states):
        return ScheduleStatus.POSTED
    return ScheduleStatus.PARTIALLY_POSTED if posted else ScheduleStatus.FAILED


async def refresh_schedule_status(session: AsyncSession, schedule_id: uuid.UUID) -> None:
    """Store the status its targets give a schedule that is publishing (or was).

    The schedule row is locked first: two targets settling at once in two transactions would
    otherwise each read the other as still publishing (PostgreSQL's read committed) and both
    store `publishing`, for good. The lock is FOR NO KEY UPDATE (`key_share`), not FOR
    UPDATE: each of those transactions has already written rows that reference the schedule
    (its attempt, its `schedule_external` row), which holds a KEY SHARE lock on it, and two
    FOR UPDATE requests behind each other's KEY SHARE deadlock (they did, in CI).
    """
    await session.execute(
        select(Schedule.id).where(Schedule.id == schedule_id).with_for_update(key_share=True)
    )
    states = list(
        await session.scalars(
            select(ScheduleTarget.state).where(ScheduleTarget.schedule_id == schedule_id)
        )
    )
    status = derive_status(states)
    posted_at = await session.scalar(
        select(func.min(PublishAttempt.finished_at)).where(
            PublishAttempt.schedule_id == schedule_id,
            PublishAttempt.phase == AttemptPhase.CREATED,
        )
    )
    errors: list[str] = list(
        await session.scalars(
            select(ScheduleTarget.error).where(
                ScheduleTarget.schedule_id == schedule_id, ScheduleTarget.error.is_not(None)
            )
        )
    )
    await session.execute(
        update(Schedule)
        .where(
            Schedule.id == schedule_id,
            Schedule.status.not_in([ScheduleStatus.DRAFT, ScheduleStatus.CANCELLED]),
        )
        .values(
            status=status,
            published_at=posted_at,
            last_error="; ".join(errors)[:MESSAGE_LIMIT] if errors else None,
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )


async def get_attempt(session: AsyncSession, key: AttemptKey) -> PublishAttempt | None:
    return await session.scalar(
        select(PublishAttempt).where(
            PublishAttempt.target_id == key.target_id, PublishAttempt.number == key.number
        )
    )


async def cas_attempt(
    session: AsyncSession, key: AttemptKey, expect: Sequence[AttemptPhase], **values: Any
) -> bool:
    """Update the attempt only while it is in one of the `expect` phases; True when it was."""
    result = await session.execute(
        update(PublishAttempt)
        .where(
            PublishAttempt.target_id == key.target_id,
            PublishAttempt.number == key.number,
            PublishAttempt.phase.in_(list(expect)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cas_target(session: AsyncSession, key: AttemptKey, **values: Any) -> bool:
    """Update the target only while `key` is its current attempt and it is not final."""
    result = await session.execute(
        update(ScheduleTarget)
        .where(
            ScheduleTarget.id == key.target_id,
            ScheduleTarget.attempt_number == key.number,
            ScheduleTarget.state.not_in(list(FINAL_TARGET_STATES)),
        )
        .values(updated_at=func.now(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def store_prepared(
    session: AsyncSession, key: AttemptKey, prepared: dict[str, Any], *, worker: str
) -> bool:
    """Record what `prepare` made; the attempt stays PREPARING until its media is ready."""
    ok = await cas_attempt(session, key, [AttemptPhase.PREPARING], prepared=prepared, worker=worker)
    if ok:
        await cas_target(session, key, state=TargetState.PUBLISHING)
    return ok


async def extend_settle(session: AsyncSession, key: AttemptKey, until: datetime) -> None:
    """A target that is waiting on purpose (media processing, quota window) is not stuck."""
    await cas_target(session, key, settle_by=until)


async def mark_ready(session: AsyncSession, key: AttemptKey) -> bool:
    return await cas_attempt(session, key, [AttemptPhase.PREPARING], phase=AttemptPhase.READY)


async def begin_call(
    session: AsyncSession, key: AttemptKey, *, now: datetime, settle: timedelta, worker: str
) -> bool:
    """Rule 1, the intent: READY -> CALLING with the call's start time. Only the winner may
    call `create()`, and only after the caller has committed this."""
    return await _to_calling(session, key, [AttemptPhase.READY], now, settle, worker)


async def adopt_published(
    session: AsyncSession, key: AttemptKey, *, now: datetime, settle: timedelta, worker: str
) -> bool:
    """The platform says the prepared media is already published (an Instagram container
    `PUBLISHED`): treat the attempt as called, without calling, so it is reconciled."""
    return await _to_calling(
        session, key, [AttemptPhase.PREPARING, AttemptPhase.READY], now, settle, worker
    )


async def _to_calling(
    session: AsyncSession,
    key: AttemptKey,
    expect: Sequence[AttemptPhase],
    now: datetime,
    settle: timedelta,
    worker: str,
) -> bool:
    # The call starts afresh: a note left while the attempt waited (the publishing quota)
    # no longer applies, and what the call answers is recorded after it.
    cleared: dict[str, Any] = {"error_kind": None, "error_code": None, "error_message": None}
    ok = await cas_attempt(
        session,
        key,
        expect,
        phase=AttemptPhase.CALLING,
        call_started_at=now,
        worker=worker,
        **cleared,
    )
    if ok:
        await cas_target(
            session,
            key,
            state=TargetState.PUBLISHING,
            settle_by=now + settle,
            error_kind=None,
            error=None,
        )
    return ok


async def note_call_error(session: AsyncSession, key: AttemptKey, failure: Failure) -> None:
    """Keep what the call answered on a CALLING attempt that is to be reconciled."""
    await cas_attempt(session, key, [AttemptPhase.CALLING], **failure.attempt_values())


async def record_created(
    session: AsyncSession,
    key: AttemptKey,
    ref: ExternalRef,
    *,
    now: datetime,
    settled_by: SettledBy,
) -> bool:
    """Rule 2: CALLING -> CREATED with the post's id, the target posted, and the post tracked
    for the insights poller, in the caller's one transaction."""
    if not await cas_attempt(
        session,
        key,
        [AttemptPhase.CALLING],
        phase=AttemptPhase.CREATED,
        external_id=ref.external_id,
        finished_at=now,
        settled_by=settled_by,
    ):
        return False
    target = await session.get(ScheduleTarget, key.target_id)
    assert target is not None
    await cas_target(
        session,
        key,
        state=TargetState.POSTED,
        external_id=ref.external_id,
        url=ref.url,
        error_kind=None,
        error=None,
        settle_by=None,
    )
    schedule = await session.get(Schedule, target.schedule_id)
    assert schedule is not None
    await store_external_reference(
        session,
        schedule_id=schedule.id,
        workspace_id=schedule.workspace_id,
        account_id=target.account_id,
        ref=ref,
    )
    await refresh_schedule_status(session, schedule.id)
    return True


async def finish_attempt(
    session: AsyncSession,
    key: AttemptKey,
    phase: AttemptPhase,
    *,
    now: datetime,
    settled_by: SettledBy,
    failure: Failure | None = None,
) -> bool:
    """End an open attempt as FAILED, ABSENT or UNKNOWN (the target is moved separately)."""
    values: dict[str, Any] = {"phase": phase, "finished_at": now, "settled_by": settled_by}
    if failure is not None:
        values.update(failure.attempt_values())
    return await cas_attempt(session, key, list(OPEN_PHASES), **values)


async def settle_target(
    session: AsyncSession, key: AttemptKey, state: TargetState, failure: Failure
) -> bool:
    """End a target as FAILED or UNKNOWN (with the reason shown to the user)."""
    ok = await cas_target(
        session,
        key,
        state=state,
        error_kind=failure.kind,
        error=failure.message[:MESSAGE_LIMIT],
        settle_by=None,
    )
    if ok:
        target = await session.get(ScheduleTarget, key.target_id)
        assert target is not None
        await refresh_schedule_status(session, target.schedule_id)
    return ok


async def open_next_attempt(
    session: AsyncSession,
    key: AttemptKey,
    *,
    now: datetime,
    settle: timedelta,
    max_attempts: int,
    deadline_applies: bool,
) -> int | None:
    """A new attempt after one proven not to have created the post (absent, refused as
    transient, never called). Bounded: at most `max_attempts` per run, and transient retries
    only until the target's `retry_until`. None when the target was failed instead (the last
    attempt's reason is kept) or is no longer this key's."""
    target = await session.get(ScheduleTarget, key.target_id, populate_existing=True)
    if target is None or target.attempt_number != key.number:
        return None
    if target.state in FINAL_TARGET_STATES:
        return None
    previous = await get_attempt(session, key)
    if previous is not None and previous.phase in OPEN_PHASES:
        return None  # the rule: a new attempt only once the last one is settled
    out_of_time = deadline_applies and target.retry_until is not None and now >= target.retry_until
    if target.attempts_in_run >= max_attempts or out_of_time:
        why = "the retry deadline passed" if out_of_time else f"{max_attempts} attempts made"
        last = previous.error_message if previous is not None else None
        await settle_target(
            session,
            key,
            TargetState.FAILED,
            Failure(
                previous.error_kind if previous and previous.error_kind else ErrorKind.TRANSIENT,
                f"gave up: {why}" + (f"; last error: {last}" if last else ""),
            ),
        )
        return None
    number = key.number + 1
    session.add(
        PublishAttempt(
            target_id=target.id,
            schedule_id=target.schedule_id,
            workspace_id=await _workspace_of(session, target.schedule_id),
            number=number,
            phase=AttemptPhase.PREPARING,
            started_at=now,
        )
    )
    await session.flush()
    await cas_target(
        session,
        key,
        attempt_number=number,
        attempts_in_run=target.attempts_in_run + 1,
        settle_by=now + settle,
    )
    return number


async def _workspace_of(session: AsyncSession, schedule_id: uuid.UUID) -> uuid.UUID:
    workspace = await session.scalar(
        select(Schedule.workspace_id).where(Schedule.id == schedule_id)
    )
    assert workspace is not None
    return workspace


async def mark_reconnect_required(
    session: AsyncSession, account_id: uuid.UUID, message: str
) -> None:
    """A token error while publishing: the account needs reconnecting (as the poller does)."""
    await session.execute(
        update(SocialAccount)
        .where(SocialAccount.id == account_id)
        .values(
            status=AccountStatus.RECONNECT_REQUIRED,
            last_error=message[:MESSAGE_LIMIT],
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
