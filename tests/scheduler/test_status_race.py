"""Two targets of one schedule settling at the same moment in two transactions (two workers)
leave the schedule `posted`, not `publishing` for good: the status recompute serializes on the
schedule row (on PostgreSQL each transaction would otherwise read the other target as still
publishing) — and without a deadlock when each has already written rows that reference the
schedule, as settling does (its attempt, its `schedule_external` row)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from app.core.runtime import Runtime, build_runtime
from app.models import (
    AttemptPhase,
    Provider,
    PublishAttempt,
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
    TargetState,
)
from app.models.base import utcnow
from app.services.publish_attempts import refresh_schedule_status
from tests.factories import make_account


@pytest.mark.parametrize("references", [False, True], ids=["plain", "referencing_rows"])
async def test_targets_settling_together_leave_the_schedule_posted(
    runtime: Runtime, references: bool
) -> None:
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite has one writer: its transactions cannot interleave")
    workspace_id, fb = await make_account(runtime, provider=Provider.FACEBOOK)
    _, li = await make_account(runtime, workspace_id=workspace_id, provider=Provider.LINKEDIN)
    async with runtime.sessionmaker() as session, session.begin():
        schedule = Schedule(
            workspace_id=workspace_id,
            text="together",
            status=ScheduleStatus.PUBLISHING,
            publish_at=utcnow(),
            targets=[
                ScheduleTarget(account_id=fb, provider=Provider.FACEBOOK),
                ScheduleTarget(account_id=li, provider=Provider.LINKEDIN),
            ],
        )
        session.add(schedule)
        await session.flush()
        for target in schedule.targets:
            target.state = TargetState.PUBLISHING
        schedule_id, target_ids = schedule.id, [t.id for t in schedule.targets]
    other = build_runtime(runtime.settings)  # a second worker's pool
    try:
        first = runtime.sessionmaker()
        second = other.sessionmaker()
        async with first, second:
            for session, target_id in ((first, target_ids[0]), (second, target_ids[1])):
                await session.execute(
                    update(ScheduleTarget)
                    .where(ScheduleTarget.id == target_id)
                    .values(state=TargetState.POSTED)
                )
                if references:  # a row whose foreign key takes KEY SHARE on the schedule
                    session.add(
                        PublishAttempt(
                            target_id=target_id,
                            schedule_id=schedule_id,
                            workspace_id=workspace_id,
                            number=1,
                            phase=AttemptPhase.CREATED,
                            started_at=utcnow(),
                            finished_at=utcnow(),
                        )
                    )
                    await session.flush()
            # It sees the other one publishing; with FOR UPDATE it would wait for ever on the
            # other's KEY SHARE lock (and the other on its own: a deadlock in production).
            await asyncio.wait_for(refresh_schedule_status(first, schedule_id), 10)
            late = asyncio.create_task(refresh_schedule_status(second, schedule_id))
            await asyncio.sleep(0.3)  # the second waits on the first's schedule lock
            await first.commit()
            await late
            await second.commit()
    finally:
        await other.aclose()
    async with runtime.sessionmaker() as session:
        stored = await session.get(Schedule, schedule_id)
        assert stored is not None
        assert stored.status == ScheduleStatus.POSTED
