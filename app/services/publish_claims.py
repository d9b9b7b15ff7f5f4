"""What the publishing engine reads and claims each tick: due schedules, targets to start,
targets stuck past their settle bound, and the input of one attempt.

Claims are compare-and-set on status, so a cancel or an edit that commits first wins (the
claim then skips the schedule), and two engines never start one target twice: on PostgreSQL
the candidate rows are locked with SKIP LOCKED, and every claim re-checks the state it read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenCipher
from app.models import (
    AccountStatus,
    AttemptPhase,
    ErrorKind,
    Provider,
    PublishAttempt,
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
    SocialAccount,
    TargetState,
)
from app.models.base import utcnow
from app.publishers.base import PublishRequest
from app.services.accounts import account_status
from app.services.publish_attempts import AttemptKey
from app.services.workspace_lifecycle import workspace_active


@dataclass(frozen=True, slots=True)
class StartedAttempt:
    """An attempt the engine must run: its workflow id comes from the key."""

    target_id: str
    number: int
    account_id: str

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(uuid.UUID(self.target_id), self.number)


@dataclass(frozen=True, slots=True)
class StuckTarget:
    target_id: str
    number: int
    account_id: str
    phase: AttemptPhase | None  # None: the attempt row is missing (never expected)


@dataclass(frozen=True, slots=True)
class PublishInput:
    """Everything one step needs about its attempt (the token stays out of step records)."""

    request: PublishRequest
    phase: AttemptPhase
    prepared: dict[str, Any]
    account_id: uuid.UUID
    account_usable: bool
    publish_at: datetime | None
    call_started_at: datetime | None
    settle_by: datetime | None
    attempts_in_run: int
    # What the call answered, kept on a CALLING attempt that is being reconciled.
    call_error_kind: ErrorKind | None
    call_error: str | None


def _skip_locked(session: AsyncSession) -> bool:
    """PostgreSQL: lock the candidates, skipping rows another claimer holds. SQLite needs no
    lock: BEGIN IMMEDIATE already makes the claim the only writer."""
    return session.get_bind().dialect.name == "postgresql"


async def claim_due_schedules(
    session: AsyncSession, *, now: datetime, limit: int, ahead: timedelta = timedelta(0)
) -> int:
    """`scheduled` schedules due by `now + ahead` (their media is prepared ahead; the call
    waits for `publish_at`), oldest `publish_at` first, move to `publishing` (CAS)."""
    stmt = (
        select(Schedule.id)
        .where(Schedule.status == ScheduleStatus.SCHEDULED, Schedule.publish_at <= now + ahead)
        .where(workspace_active(Schedule.workspace_id))  # a disabled one's stay `scheduled`
        .order_by(Schedule.publish_at, Schedule.id)
        .limit(limit)
    )
    if _skip_locked(session):
        stmt = stmt.with_for_update(of=Schedule, skip_locked=True)
    ids = list(await session.scalars(stmt))
    if not ids:
        return 0
    won = list(
        await session.scalars(
            update(Schedule)
            .where(Schedule.id.in_(ids), Schedule.status == ScheduleStatus.SCHEDULED)
            .values(status=ScheduleStatus.PUBLISHING, updated_at=now)
            .returning(Schedule.id)
            .execution_options(synchronize_session=False)
        )
    )
    return len(won)


async def start_pending_targets(
    session: AsyncSession,
    *,
    now: datetime,
    settle: timedelta,
    retry_deadline: timedelta,
    limit: int,
) -> list[StartedAttempt]:
    """Every `pending` target of a publishing schedule gets its next attempt (the intent row,
    phase PREPARING) and becomes `publishing`; in `publish_at` order."""
    stmt = (
        select(
            ScheduleTarget.id,
            ScheduleTarget.attempt_number,
            ScheduleTarget.account_id,
            ScheduleTarget.schedule_id,
            Schedule.workspace_id,
        )
        .join(Schedule, Schedule.id == ScheduleTarget.schedule_id)
        .where(
            ScheduleTarget.state == TargetState.PENDING,
            Schedule.status == ScheduleStatus.PUBLISHING,
            workspace_active(Schedule.workspace_id),  # a disabled one's stay `pending`
        )
        .order_by(Schedule.publish_at, Schedule.id, ScheduleTarget.provider)
        .limit(limit)
    )
    if _skip_locked(session):
        stmt = stmt.with_for_update(of=ScheduleTarget, skip_locked=True)
    rows = (await session.execute(stmt)).all()
    started: list[StartedAttempt] = []
    for row in rows:
        number = row.attempt_number + 1
        claimed = await session.execute(
            update(ScheduleTarget)
            .where(
                ScheduleTarget.id == row.id,
                ScheduleTarget.state == TargetState.PENDING,
                ScheduleTarget.attempt_number == row.attempt_number,
            )
            .values(
                state=TargetState.PUBLISHING,
                attempt_number=number,
                attempts_in_run=1,
                settle_by=now + settle,
                retry_until=now + retry_deadline,
                error=None,
                error_kind=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue
        session.add(
            PublishAttempt(
                target_id=row.id,
                schedule_id=row.schedule_id,
                workspace_id=row.workspace_id,
                number=number,
                phase=AttemptPhase.PREPARING,
                started_at=now,
            )
        )
        started.append(StartedAttempt(str(row.id), number, str(row.account_id)))
    await session.flush()
    return started


async def stuck_targets(session: AsyncSession, *, now: datetime, limit: int) -> list[StuckTarget]:
    """Targets still `publishing` past their settle bound, with their attempt's phase."""
    stmt = (
        select(
            ScheduleTarget.id,
            ScheduleTarget.attempt_number,
            ScheduleTarget.account_id,
            PublishAttempt.phase,
        )
        .outerjoin(
            PublishAttempt,
            (PublishAttempt.target_id == ScheduleTarget.id)
            & (PublishAttempt.number == ScheduleTarget.attempt_number),
        )
        .where(ScheduleTarget.state == TargetState.PUBLISHING, ScheduleTarget.settle_by < now)
        .order_by(ScheduleTarget.settle_by)
        .limit(limit)
    )
    return [
        StuckTarget(str(r.id), r.attempt_number, str(r.account_id), r.phase)
        for r in (await session.execute(stmt)).all()
    ]


async def load_publish_input(
    session: AsyncSession, key: AttemptKey, cipher: TokenCipher
) -> PublishInput | None:
    """The attempt's request, as the schedule reads now (edits before the claim count)."""
    row = (
        await session.execute(
            select(PublishAttempt, ScheduleTarget, Schedule, SocialAccount)
            .join(ScheduleTarget, ScheduleTarget.id == PublishAttempt.target_id)
            .join(Schedule, Schedule.id == ScheduleTarget.schedule_id)
            .join(SocialAccount, SocialAccount.id == ScheduleTarget.account_id)
            .where(PublishAttempt.target_id == key.target_id, PublishAttempt.number == key.number)
        )
    ).one_or_none()
    if row is None:
        return None
    attempt, target, schedule, account = row
    status = account_status(account.status, account.token_expires_at, now=utcnow())
    usable = status not in (AccountStatus.DISABLED, AccountStatus.RECONNECT_REQUIRED)
    request = PublishRequest(
        target_id=target.id,
        provider=Provider(target.provider),
        account_external_id=account.external_id,
        token=cipher.decrypt(account.access_token_enc) if usable else "",
        text=schedule.text,
        link=schedule.link,
        media_urls=tuple(schedule.media_urls or ()),
        attempt_started_at=attempt.started_at,
        create_sent_at=attempt.call_started_at,
    )
    return PublishInput(
        request=request,
        phase=attempt.phase,
        prepared=dict(attempt.prepared or {}),
        account_id=account.id,
        account_usable=usable,
        publish_at=schedule.publish_at,
        call_started_at=attempt.call_started_at,
        settle_by=target.settle_by,
        attempts_in_run=target.attempts_in_run,
        call_error_kind=attempt.error_kind,
        call_error=attempt.error_message,
    )
