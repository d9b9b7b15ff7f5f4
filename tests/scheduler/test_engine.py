"""The engine on DBOS, in-process: the tick publishes a due schedule within seconds, a lost
reply is reconciled (one post), a used-up publishing quota is waited for (one post), a
cancelled schedule is never published, media is prepared ahead and the post made at its
time, and one post's media processing does not hold its account's turn for the others."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.core.runtime import Runtime
from app.models import Provider, Schedule, ScheduleStatus, TargetState
from tests.scheduler.fakes import FakePlatform, FakePublisher
from tests.scheduler.helpers import attempts_of, make_due, schedule_of, target_of
from workers import background


@dataclass
class Engine:
    runtime: Runtime
    platform: FakePlatform


@pytest.fixture
async def engine(runtime: Runtime) -> AsyncIterator[Engine]:
    settings = runtime.settings.model_copy(
        update={
            "PUBLISH_TICK_SECONDS": 1,
            "PUBLISH_RECONCILE_SECONDS": 0.1,
            "PUBLISH_QUOTA_RECHECK_SECONDS": 0.2,
            "PUBLISH_MEDIA_POLL_SECONDS": 0.5,
        }
    )
    rt = replace(runtime, settings=settings)
    platform = FakePlatform()
    publishers = {p: FakePublisher(p, platform) for p in Provider}
    await background.start_background(
        rt, role="test", poller=False, publisher_for=publishers.__getitem__
    )
    yield Engine(rt, platform)
    await background.stop_background()


async def _until_final(runtime: Runtime, target_id: object, timeout: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        target = await target_of(runtime, target_id)  # type: ignore[arg-type]
        if target.state in (TargetState.POSTED, TargetState.FAILED, TargetState.UNKNOWN):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError("the target was not settled in time")


async def test_tick_publishes_a_due_schedule_within_seconds(engine: Engine) -> None:
    due = await make_due(engine.runtime, minutes_ago=0)
    took = await _until_final(engine.runtime, due.target_id)
    assert took < 5.0
    assert (await target_of(engine.runtime, due.target_id)).state == TargetState.POSTED
    assert (await schedule_of(engine.runtime, due.schedule_id)).status == ScheduleStatus.POSTED
    assert engine.platform.posts(due.target_id) == 1


async def test_lost_reply_is_reconciled_by_the_engine(engine: Engine) -> None:
    engine.platform.faults = deque(["lost_absent", "lost_created"])
    due = await make_due(engine.runtime)
    await _until_final(engine.runtime, due.target_id)
    assert (await target_of(engine.runtime, due.target_id)).state == TargetState.POSTED
    assert engine.platform.posts(due.target_id) == 1
    assert len(await attempts_of(engine.runtime, due.target_id)) == 2


@pytest.mark.parametrize("how", ["read", "refused"])
async def test_used_up_quota_is_waited_for_then_posted_once(engine: Engine, how: str) -> None:
    if how == "read":
        engine.platform.quota_exhausted_reads = 3
    else:
        engine.platform.faults = deque(["quota"])
    due = await make_due(engine.runtime, provider=Provider.INSTAGRAM)
    await _until_final(engine.runtime, due.target_id)
    target = await target_of(engine.runtime, due.target_id)
    assert (target.state, target.error) == (TargetState.POSTED, None)
    assert engine.platform.posts(due.target_id) == 1
    assert engine.platform.create_calls == (1 if how == "read" else 2)
    assert engine.platform.quota_reads == (4 if how == "read" else 2)
    [attempt] = await attempts_of(engine.runtime, due.target_id)  # waited, never retried
    assert attempt.finished_at is not None


async def test_cancelled_schedule_is_never_published(engine: Engine) -> None:
    due = await make_due(engine.runtime, minutes_ago=-0.05)  # due in 3 s
    async with engine.runtime.sessionmaker() as s, s.begin():
        await s.execute(
            update(Schedule)
            .where(Schedule.id == due.schedule_id)
            .values(status=ScheduleStatus.CANCELLED)
        )
    other = await make_due(engine.runtime)
    await _until_final(engine.runtime, other.target_id)
    await asyncio.sleep(3.5)
    assert (await schedule_of(engine.runtime, due.schedule_id)).status == ScheduleStatus.CANCELLED
    assert engine.platform.posts(due.target_id) == 0
    assert await attempts_of(engine.runtime, due.target_id) == []


async def test_media_is_prepared_ahead_and_the_post_made_at_its_time(engine: Engine) -> None:
    engine.platform.ready_waits = 2  # ~1.25 s of processing at the test's media cadence
    due = await make_due(engine.runtime, minutes_ago=-0.1, provider=Provider.INSTAGRAM)  # in 6 s
    publish_at = (await schedule_of(engine.runtime, due.schedule_id)).publish_at
    assert publish_at is not None
    deadline = time.monotonic() + 5
    while engine.platform.prepare_calls == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert engine.platform.prepare_calls == 1  # prepared before its time...
    assert engine.platform.create_calls == 0
    await _until_final(engine.runtime, due.target_id)
    [created_at] = engine.platform.created_at[due.target_id]
    # ... and posted at it: not before, and not after the processing it no longer waits for.
    assert publish_at <= created_at < publish_at + timedelta(seconds=1.5), created_at - publish_at
    assert (await target_of(engine.runtime, due.target_id)).state == TargetState.POSTED


async def test_media_processing_does_not_hold_the_accounts_turn(engine: Engine) -> None:
    """PUBLISH_ACCOUNT_CONCURRENCY=1 bounds the calls, not the waits: a post whose video is
    still processing does not delay the account's next post (it did: issue 9's benchmark)."""
    engine.platform.processing_held = {"slow video"}  # processing until the quick post is done
    slow = await make_due(engine.runtime, text="slow video", provider=Provider.LINKEDIN)
    quick = await make_due(
        engine.runtime,
        text="quick text",
        provider=Provider.LINKEDIN,
        account=(slow.workspace_id, slow.account_id),
    )
    # Settled while the video is still processing: held behind it, it could not be. The
    # video processes until then, however slow the machine (a fixed ~6.5 s of processing and
    # a 4 s bound on the quick post failed once in CI, at 5.5 s).
    await _until_final(engine.runtime, quick.target_id, timeout=30)
    assert engine.platform.posts(slow.target_id) == 0
    engine.platform.processing_held.clear()
    await _until_final(engine.runtime, slow.target_id, timeout=30)
    assert engine.platform.posts(slow.target_id) == engine.platform.posts(quick.target_id) == 1


async def test_a_step_failing_on_the_database_is_retried_not_left_to_the_sweep(
    engine: Engine,
) -> None:
    """A step that raises instead of answering (here: a refused database connection, as
    when the server's connections run out) is redone in place: the post is made within
    seconds, once, not after the settle bound."""
    engine.platform.prepare_failures = 2
    due = await make_due(engine.runtime)
    took = await _until_final(engine.runtime, due.target_id)
    assert took < 8.0
    assert engine.platform.prepare_calls == 3
    assert engine.platform.posts(due.target_id) == 1
