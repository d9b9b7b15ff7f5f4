"""Publishing as the API sees it: publish now, retry the failed targets, the attempt log, and
the publishing counts of the summary. The engine (`app.scheduler`) does the publishing; these
only change what it will pick up on its next tick, under the same compare-and-set rules.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.models import (
    PublishAttempt,
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
    TargetState,
)
from app.models.base import utcnow
from app.schemas.insights import PublishingCounts
from app.schemas.schedules import AttemptOut, TargetAttemptsOut
from app.services.schedules import get_schedule

PUBLISHABLE = (ScheduleStatus.DRAFT, ScheduleStatus.SCHEDULED)


async def publish_now(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> Schedule:
    """A draft or scheduled post goes out now: the engine starts its targets on its next tick.
    Anything else is 409 (a publishing or published post is not published again)."""
    schedule = await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    now = utcnow()
    moved = await session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.status.in_(PUBLISHABLE))
        .values(status=ScheduleStatus.PUBLISHING, publish_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"schedule is {schedule.status.value}; only drafts and scheduled posts can be "
            "published now",
            code="not_publishable",
        )
    return await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )


async def retry_failed(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> Schedule:
    """Republish only the targets that failed (never `unknown` ones: they may be live)."""
    schedule = await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    retried = await session.execute(
        update(ScheduleTarget)
        .where(
            ScheduleTarget.schedule_id == schedule.id,
            ScheduleTarget.state == TargetState.FAILED,
        )
        .values(state=TargetState.PENDING, error=None, error_kind=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not retried.rowcount:  # type: ignore[attr-defined]
        raise Conflict("no target of this schedule failed", code="nothing_to_retry")
    await session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(status=ScheduleStatus.PUBLISHING, last_error=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )


async def list_attempts(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> list[TargetAttemptsOut]:
    schedule = await get_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    rows = await session.scalars(
        select(PublishAttempt)
        .where(PublishAttempt.schedule_id == schedule.id)
        .order_by(PublishAttempt.target_id, PublishAttempt.number)
    )
    by_target: dict[uuid.UUID, list[AttemptOut]] = defaultdict(list)
    for row in rows:
        by_target[row.target_id].append(AttemptOut.model_validate(row))
    return [
        TargetAttemptsOut(
            account_id=t.account_id,
            provider=t.provider,
            state=t.state,
            attempts=by_target.get(t.id, []),
        )
        for t in sorted(schedule.targets, key=lambda t: t.provider.value)
    ]


async def publishing_counts(
    session: AsyncSession, *, workspace_id: uuid.UUID, now: datetime | None = None
) -> PublishingCounts:
    """Due (scheduled and past their time), publishing, failed in 24 h, unknown (targets)."""
    now = now or utcnow()
    due = await session.scalar(
        select(func.count()).where(
            Schedule.workspace_id == workspace_id,
            Schedule.status == ScheduleStatus.SCHEDULED,
            Schedule.publish_at <= now,
        )
    )
    in_workspace = ScheduleTarget.schedule_id.in_(
        select(Schedule.id).where(Schedule.workspace_id == workspace_id)
    )
    states = dict(
        (
            await session.execute(
                select(ScheduleTarget.state, func.count())
                .where(
                    in_workspace,
                    ScheduleTarget.state.in_([TargetState.PUBLISHING, TargetState.UNKNOWN]),
                )
                .group_by(ScheduleTarget.state)
            )
        ).all()
    )
    waiting = await session.scalar(
        select(func.count()).where(
            ScheduleTarget.state == TargetState.PENDING,
            ScheduleTarget.schedule_id.in_(
                select(Schedule.id).where(
                    Schedule.workspace_id == workspace_id,
                    Schedule.status == ScheduleStatus.PUBLISHING,
                )
            ),
        )
    )
    failed = await session.scalar(
        select(func.count()).where(
            in_workspace,
            ScheduleTarget.state == TargetState.FAILED,
            ScheduleTarget.updated_at >= now - timedelta(hours=24),
        )
    )
    return PublishingCounts(
        due=int(due or 0),
        publishing=int(states.get(TargetState.PUBLISHING, 0)) + int(waiting or 0),
        failed_24h=int(failed or 0),
        unknown=int(states.get(TargetState.UNKNOWN, 0)),
    )
