"""The attempt state machine under every fault of the fake platform: each target ends in the
state the rules say, and the platform holds exactly the posts it should (never two)."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.runtime import Runtime
from app.models import (
    AccountStatus,
    AttemptPhase,
    Schedule,
    ScheduleExternal,
    ScheduleStatus,
    ScheduleTarget,
    SettledBy,
    SocialAccount,
    TargetState,
)
from app.models.base import utcnow
from app.services.publish_attempts import derive_status
from tests.scheduler.fakes import Crash, FakePlatform
from tests.scheduler.helpers import (
    attempts_of,
    claim,
    drive,
    make_due,
    make_steps,
    schedule_of,
    target_of,
)


async def test_success_posts_once_and_tracks_the_post(runtime: Runtime) -> None:
    platform = FakePlatform()
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.POSTED
    assert platform.posts(due.target_id) == 1
    assert target.external_id == platform.created[due.target_id][0]
    schedule = await schedule_of(runtime, due.schedule_id)
    assert schedule.status == ScheduleStatus.POSTED
    assert schedule.published_at is not None
    [attempt] = await attempts_of(runtime, due.target_id)
    assert (attempt.phase, attempt.settled_by) == (AttemptPhase.CREATED, SettledBy.REPLY)
    assert attempt.call_started_at is not None
    assert attempt.worker == "test-worker"
    async with runtime.sessionmaker() as s:
        ext = await s.scalar(select(ScheduleExternal))
    assert ext is not None
    assert ext.external_id == target.external_id
    assert ext.next_fetch_at is not None  # the poller fetches the young post at once


async def test_permanent_refusal_fails_with_the_platform_message(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["refuse"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.FAILED
    assert "deemed abusive" in (target.error or "")
    assert platform.posts(due.target_id) == 0
    assert platform.create_calls == 1
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.phase == AttemptPhase.FAILED
    assert attempt.error_code == "368"
    assert (await schedule_of(runtime, due.schedule_id)).status == ScheduleStatus.FAILED


async def test_token_error_fails_and_marks_the_account(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["token"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    assert (await target_of(runtime, due.target_id)).state == TargetState.FAILED
    async with runtime.sessionmaker() as s:
        account = await s.get(SocialAccount, due.account_id)
    assert account is not None
    assert account.status == AccountStatus.RECONNECT_REQUIRED


async def test_transient_before_send_retries_with_a_new_attempt(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["transient", "transient"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    assert (await target_of(runtime, due.target_id)).state == TargetState.POSTED
    phases = [a.phase for a in await attempts_of(runtime, due.target_id)]
    assert phases == [AttemptPhase.FAILED, AttemptPhase.FAILED, AttemptPhase.CREATED]
    assert platform.posts(due.target_id) == 1


async def test_lost_reply_after_create_is_found_not_sent_again(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["lost_created"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.POSTED
    assert platform.create_calls == 1
    assert platform.posts(due.target_id) == 1
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.settled_by == SettledBy.RECONCILE_FOUND
    assert attempt.external_id == platform.created[due.target_id][0]


async def test_lost_reply_without_a_post_is_proven_absent_then_retried(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["lost_absent"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    assert (await target_of(runtime, due.target_id)).state == TargetState.POSTED
    attempts = await attempts_of(runtime, due.target_id)
    assert [(a.phase, a.settled_by) for a in attempts] == [
        (AttemptPhase.ABSENT, SettledBy.RECONCILE_ABSENT),
        (AttemptPhase.CREATED, SettledBy.REPLY),
    ]
    assert platform.create_calls == 2
    assert platform.posts(due.target_id) == 1


async def test_crash_between_call_and_record_never_calls_again(runtime: Runtime) -> None:
    """Rule 1: the re-executed call step finds CALLING and reconciles."""
    platform = FakePlatform(faults=deque(["crash_after_create"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    assert (await steps.prepare(started.key)).next == "call"
    with pytest.raises(Crash):
        await steps.call(started.key)
    # DBOS re-executes the step whose output it never recorded.
    assert (await steps.call(started.key)).next == "reconcile"
    assert platform.create_calls == 1
    assert (await steps.reconcile(started.key)).next == "done"
    assert (await target_of(runtime, due.target_id)).state == TargetState.POSTED
    assert platform.posts(due.target_id) == 1
    assert platform.create_calls == 1


async def test_inconclusive_stays_until_the_bound_then_unknown(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["lost_created"]), reconcile_mode="inconclusive")
    due = await make_due(runtime)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    out = await drive(steps, started.key)
    assert out.next == "reconcile"
    assert out.wait_s > 0
    assert (await target_of(runtime, due.target_id)).state == TargetState.PUBLISHING
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(update(ScheduleTarget).values(settle_by=utcnow() - timedelta(seconds=1)))
    assert (await steps.reconcile(started.key)).next == "done"
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.UNKNOWN
    assert "may exist" in (target.error or "")
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.settled_by == SettledBy.RECONCILE_INCONCLUSIVE
    assert platform.create_calls == 1
    assert platform.posts(due.target_id) == 1
    assert (await schedule_of(runtime, due.schedule_id)).status == ScheduleStatus.FAILED


@pytest.mark.parametrize(("mode", "state"), [("found", "posted"), ("absent", "failed")])
async def test_duplicate_refusal_is_reconciled_first(
    runtime: Runtime, mode: str, state: str
) -> None:
    platform = FakePlatform(faults=deque(["duplicate"]), reconcile_mode=mode)
    due = await make_due(runtime)
    if mode == "found":  # the earlier attempt's post is on the platform
        platform.created[due.target_id].append("123_456")
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState(state)
    assert platform.create_calls == 1  # a duplicate refusal is never answered by sending again
    if mode == "absent":
        assert "Duplicate" in (target.error or "")


async def test_slow_media_waits_then_posts(runtime: Runtime) -> None:
    platform = FakePlatform(ready_waits=3)
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    assert (await target_of(runtime, due.target_id)).state == TargetState.POSTED
    assert platform.posts(due.target_id) == 1


async def test_attempts_are_bounded(runtime: Runtime) -> None:
    max_attempts = runtime.settings.PUBLISH_MAX_ATTEMPTS
    platform = FakePlatform(faults=deque(["lost_absent"] * 50))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    await drive(make_steps(runtime, platform), started.key)
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.FAILED
    assert "gave up" in (target.error or "")
    assert platform.create_calls == max_attempts
    assert platform.posts(due.target_id) == 0


async def test_a_re_run_of_a_settled_attempt_does_nothing(runtime: Runtime) -> None:
    platform = FakePlatform()
    due = await make_due(runtime)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    await drive(steps, started.key)
    for step in (steps.prepare, steps.check_ready, steps.call, steps.reconcile):
        assert (await step(started.key)).next == "done"
    assert platform.create_calls == 1
    assert platform.posts(due.target_id) == 1


async def test_restart_of_an_attempt_never_called(runtime: Runtime) -> None:
    """Rule 5 for PREPARING: nothing was sent, so a new attempt is safe."""
    platform = FakePlatform()
    due = await make_due(runtime)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    following = await steps.restart(started.key)
    assert following == 2
    # The old execution, if it ever resumes, finds its attempt settled.
    assert (await steps.prepare(started.key)).next == "done"
    await drive(steps, started.key.__class__(due.target_id, following))
    assert [a.phase for a in await attempts_of(runtime, due.target_id)] == [
        AttemptPhase.ABSENT,
        AttemptPhase.CREATED,
    ]
    assert platform.posts(due.target_id) == 1


async def test_give_up_settles_a_calling_attempt_unknown(runtime: Runtime) -> None:
    platform = FakePlatform(faults=deque(["crash_after_create"]))
    due = await make_due(runtime)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    await steps.prepare(started.key)
    with pytest.raises(Crash):
        await steps.call(started.key)
    await steps.give_up(started.key, "reconciliation did not finish")
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.UNKNOWN
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.settled_by == SettledBy.DEADLINE


async def test_claims_are_once_and_respect_cancel(runtime: Runtime) -> None:
    first = await make_due(runtime)
    cancelled = await make_due(runtime)
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(
            update(Schedule)
            .where(Schedule.id == cancelled.schedule_id)
            .values(status=ScheduleStatus.CANCELLED)
        )
    started = await claim(runtime)
    assert [s.target_id for s in started] == [str(first.target_id)]
    assert await claim(runtime) == []  # claimed once
    assert (await schedule_of(runtime, cancelled.schedule_id)).status == ScheduleStatus.CANCELLED
    assert await attempts_of(runtime, cancelled.target_id) == []


def test_derive_status() -> None:
    t = TargetState
    assert derive_status([t.POSTED, t.POSTED]) == ScheduleStatus.POSTED
    assert derive_status([t.POSTED, t.FAILED]) == ScheduleStatus.PARTIALLY_POSTED
    assert derive_status([t.POSTED, t.UNKNOWN]) == ScheduleStatus.PARTIALLY_POSTED
    assert derive_status([t.FAILED, t.UNKNOWN]) == ScheduleStatus.FAILED
    assert derive_status([t.POSTED, t.PUBLISHING]) == ScheduleStatus.PUBLISHING
    assert derive_status([t.PENDING, t.FAILED]) == ScheduleStatus.PUBLISHING
