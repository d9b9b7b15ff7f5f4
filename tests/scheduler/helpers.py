"""Building due schedules and driving one target's attempts through the steps (as the
engine's workflow does, without DBOS: its durability is tested in test_engine)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.core.runtime import Runtime
from app.models import (
    Provider,
    PublishAttempt,
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
)
from app.models.base import utcnow
from app.scheduler.steps import Outcome, PublishSteps
from app.services.publish_attempts import AttemptKey
from app.services.publish_claims import (
    StartedAttempt,
    claim_due_schedules,
    start_pending_targets,
)
from tests.factories import make_account
from tests.scheduler.fakes import FakePlatform, FakePublisher


@dataclass
class Due:
    workspace_id: uuid.UUID
    account_id: uuid.UUID
    schedule_id: uuid.UUID
    target_id: uuid.UUID


async def make_due(
    runtime: Runtime,
    *,
    text: str = "hello",
    minutes_ago: float = 1,
    provider: Provider = Provider.FACEBOOK,
    account: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> Due:
    """A scheduled post due `minutes_ago` (negative: in the future), on a new account or on
    `account` (workspace id, account id)."""
    workspace_id, account_id = account or await make_account(runtime, provider=provider)
    async with runtime.sessionmaker() as session, session.begin():
        schedule = Schedule(
            workspace_id=workspace_id,
            text=text,
            status=ScheduleStatus.SCHEDULED,
            publish_at=utcnow() - timedelta(minutes=minutes_ago),
            targets=[ScheduleTarget(account_id=account_id, provider=provider)],
        )
        session.add(schedule)
        await session.flush()
        return Due(workspace_id, account_id, schedule.id, schedule.targets[0].id)


async def claim(runtime: Runtime) -> list[StartedAttempt]:
    async with runtime.sessionmaker() as session, session.begin():
        await claim_due_schedules(session, now=utcnow(), limit=100)
        return await start_pending_targets(
            session,
            now=utcnow(),
            settle=timedelta(minutes=runtime.settings.PUBLISH_SETTLE_MINUTES),
            retry_deadline=timedelta(minutes=runtime.settings.PUBLISH_RETRY_DEADLINE_MINUTES),
            limit=100,
        )


def make_steps(runtime: Runtime, platform: FakePlatform) -> PublishSteps:
    publishers = {p: FakePublisher(p, platform) for p in Provider}
    return PublishSteps(runtime, publishers.__getitem__, "test-worker")


async def drive(steps: PublishSteps, key: AttemptKey, *, max_attempts: int = 20) -> Outcome:
    """The workflow's loop (no sleeping); follows new attempts until the target is settled."""
    for _ in range(max_attempts):
        out = await steps.prepare(key)
        while out.next == "wait":
            out = await steps.check_ready(key)
        while out.next in ("call", "quota"):  # the workflow sleeps `wait_s` on "quota"
            out = await steps.check_quota(key)
            if out.next == "call":
                out = await steps.call(key)
        while out.next == "reconcile":
            out = await steps.reconcile(key)
            if out.next == "reconcile" and out.wait_s > 0:
                return out  # inconclusive until the settle bound: the caller decides
        if out.next not in ("retry", "absent"):
            return out
        following = await steps.next_attempt(key, transient=out.next == "retry")
        if following is None:
            return out
        key = AttemptKey(key.target_id, following)
    raise AssertionError("the attempts did not settle")


async def target_of(runtime: Runtime, target_id: uuid.UUID) -> ScheduleTarget:
    async with runtime.sessionmaker() as session:
        target = await session.get(ScheduleTarget, target_id)
        assert target is not None
        return target


async def schedule_of(runtime: Runtime, schedule_id: uuid.UUID) -> Schedule:
    async with runtime.sessionmaker() as session:
        schedule = await session.get(Schedule, schedule_id)
        assert schedule is not None
        return schedule


async def attempts_of(runtime: Runtime, target_id: uuid.UUID) -> list[PublishAttempt]:
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(PublishAttempt)
                .where(PublishAttempt.target_id == target_id)
                .order_by(PublishAttempt.number)
            )
        )
