"""The publishing quota: a post that would exceed the account's quota (read before the call, or
a create refused for it) waits for the window, visibly, and is posted once; never failed for
it unless the quota stays used up for two windows."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.core.runtime import Runtime
from app.models import (
    AttemptPhase,
    ErrorKind,
    Provider,
    PublishAttempt,
    ScheduleStatus,
    ScheduleTarget,
    SettledBy,
    TargetState,
)
from app.models.base import utcnow
from app.scheduler.quota import AGE_OUT_MARGIN, MIN_WAIT, plan_quota_wait
from tests.scheduler.fakes import FakePlatform
from tests.scheduler.helpers import (
    attempts_of,
    claim,
    drive,
    make_due,
    make_steps,
    schedule_of,
    target_of,
)

WAITING = "waiting for Instagram's publishing quota until "


async def test_exhausted_quota_waits_then_posts_once(runtime: Runtime) -> None:
    platform = FakePlatform(quota_exhausted_reads=2)
    due = await make_due(runtime, provider=Provider.INSTAGRAM)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    before = await target_of(runtime, due.target_id)
    assert (await steps.prepare(started.key)).next == "call"

    out = await steps.check_quota(started.key)
    assert out.next == "quota"
    recheck = runtime.settings.PUBLISH_QUOTA_RECHECK_SECONDS
    assert 0 < out.wait_s <= recheck
    assert platform.create_calls == 0  # never sent while the quota is used up
    waiting = await target_of(runtime, due.target_id)
    assert waiting.state == TargetState.PUBLISHING
    assert waiting.error_kind == ErrorKind.QUOTA
    assert (waiting.error or "").startswith(WAITING)
    assert "50 of 50 posts used in the last 24 h" in (waiting.error or "")
    # Pushed past the wait: the sweep must not take it for stuck, nor the deadline end it.
    assert waiting.settle_by is not None
    assert before.settle_by is not None
    assert waiting.settle_by > before.settle_by
    assert waiting.retry_until is not None
    assert before.retry_until is not None
    assert waiting.retry_until > before.retry_until
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.phase == AttemptPhase.READY
    assert (attempt.error_message or "").startswith(WAITING)
    schedule = await schedule_of(runtime, due.schedule_id)
    assert schedule.status == ScheduleStatus.PUBLISHING
    assert (schedule.last_error or "").startswith(WAITING)

    assert (await steps.check_quota(started.key)).next == "quota"  # still used up
    assert (await steps.check_quota(started.key)).next == "call"  # the window has room
    assert (await steps.call(started.key)).next == "done"

    posted = await target_of(runtime, due.target_id)
    assert posted.state == TargetState.POSTED
    assert (posted.error, posted.error_kind) == (None, None)
    [attempt] = await attempts_of(runtime, due.target_id)
    assert (attempt.phase, attempt.settled_by) == (AttemptPhase.CREATED, SettledBy.REPLY)
    assert attempt.error_message is None
    assert (await schedule_of(runtime, due.schedule_id)).status == ScheduleStatus.POSTED
    assert platform.quota_reads == 3
    assert platform.create_calls == 1
    assert platform.posts(due.target_id) == 1


async def test_create_refused_for_the_quota_waits_then_posts_once(runtime: Runtime) -> None:
    """2207042 is a refusal before acceptance: the same attempt waits and calls again, with
    no failure even when the wait outlasts the retry deadline."""
    platform = FakePlatform(faults=deque(["quota"]))
    due = await make_due(runtime, provider=Provider.INSTAGRAM)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    assert (await steps.prepare(started.key)).next == "call"
    assert (await steps.check_quota(started.key)).next == "call"
    out = await steps.call(started.key)
    assert out.next == "quota"
    assert out.detail.startswith(WAITING)
    assert "Application request limit reached" in out.detail
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.phase == AttemptPhase.READY  # back from CALLING: nothing was created
    assert attempt.call_started_at is None
    assert (attempt.error_kind, attempt.error_code) == (ErrorKind.QUOTA, "9/2207042")
    # A wait may outlast the transient-retry deadline: the attempt waits, it is not retried.
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(update(ScheduleTarget).values(retry_until=utcnow() - timedelta(hours=1)))

    assert (await drive(steps, started.key)).next == "done"
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.POSTED
    [attempt] = await attempts_of(runtime, due.target_id)
    assert attempt.phase == AttemptPhase.CREATED
    assert platform.create_calls == 2
    assert platform.posts(due.target_id) == 1


async def test_quota_used_up_for_two_windows_fails_with_the_reason(runtime: Runtime) -> None:
    platform = FakePlatform(quota_exhausted_reads=1)
    due = await make_due(runtime, provider=Provider.INSTAGRAM)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    await steps.prepare(started.key)
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(update(PublishAttempt).values(started_at=utcnow() - timedelta(hours=49)))
    assert (await steps.check_quota(started.key)).next == "done"
    target = await target_of(runtime, due.target_id)
    assert target.state == TargetState.FAILED
    assert target.error_kind == ErrorKind.QUOTA
    assert "stayed used up for 48 h" in (target.error or "")
    assert platform.create_calls == 0


async def test_a_settled_attempt_reads_no_quota(runtime: Runtime) -> None:
    platform = FakePlatform()
    due = await make_due(runtime, provider=Provider.INSTAGRAM)
    [started] = await claim(runtime)
    steps = make_steps(runtime, platform)
    await drive(steps, started.key)
    reads = platform.quota_reads
    assert (await steps.check_quota(started.key)).next == "done"
    assert platform.quota_reads == reads
    assert platform.posts(due.target_id) == 1


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _plan(**overrides: object) -> tuple[datetime | None, str]:
    args: dict[str, object] = {
        "provider": Provider.INSTAGRAM,
        "why": "50 of 50 posts used",
        "now": NOW,
        "attempt_started_at": NOW - timedelta(minutes=5),
        "window_s": 86_400,
        "oldest_own_post": None,
        "recheck_s": 900,
    }
    args.update(overrides)
    wait = plan_quota_wait(**args)  # type: ignore[arg-type]
    return wait.until, wait.failure.message


def test_plan_rereads_after_the_recheck_interval() -> None:
    until, message = _plan()
    assert until == NOW + timedelta(seconds=900)
    assert message == f"{WAITING}2026-03-01 12:15:00 UTC (50 of 50 posts used)"


def test_plan_wakes_when_our_oldest_post_ages_out() -> None:
    oldest = NOW - timedelta(hours=23, minutes=55)
    until, _ = _plan(oldest_own_post=oldest)
    assert until == oldest + timedelta(days=1) + AGE_OUT_MARGIN  # sooner than the re-read
    later, _ = _plan(oldest_own_post=NOW - timedelta(hours=1))
    assert later == NOW + timedelta(seconds=900)


def test_plan_never_wakes_before_the_platform_said() -> None:
    until, _ = _plan(retry_after=NOW + timedelta(hours=2))
    assert until == NOW + timedelta(hours=2)
    soon, _ = _plan(recheck_s=0.001)
    assert soon == NOW + MIN_WAIT


def test_plan_is_bounded_by_two_windows() -> None:
    started = NOW - timedelta(hours=47, minutes=59)
    until, _ = _plan(attempt_started_at=started)
    assert until == started + timedelta(days=2)
    assert _plan(attempt_started_at=NOW - timedelta(days=2))[0] is None
