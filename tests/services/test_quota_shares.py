"""Each workspace's share of Meta's app-wide budget, and when an app-level refusal pauses the
whole app (only app-scoped accounts) rather than the workspace that met it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core.runtime import Runtime
from app.models import AppQuotaUsage, Provider, ThrottleState
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from app.services.quota_shares import AppShares, bucket_of, load_shares, record_calls, share_key
from tests.factories import TrackedPost, make_account
from tests.sandbox_harness import track_new_workspace

W, X, Y = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_share_is_the_settings_fraction_or_an_equal_part() -> None:
    assert AppShares("meta:app", 0.25, workspaces=1).cap_percent == 100.0  # alone: all of it
    assert AppShares("meta:app", 0.25, workspaces=3).cap_percent == pytest.approx(100 / 3)
    assert AppShares("meta:app", 0.25, workspaces=10).cap_percent == 25.0


def test_usage_is_attributed_by_calls_and_app_wide_only_within_share_with_others() -> None:
    shares = AppShares("meta:app", 0.25, workspaces=10, app_percent=80.0, calls={W: 30, X: 10})
    assert shares.used_by(W) == 60.0
    assert shares.used_by(X) == 20.0
    assert shares.over_share(W)
    assert not shares.over_share(X)
    assert not shares.app_wide(W)  # W's own usage: only W waits
    assert shares.app_wide(X)  # X within its share while W calls: the app's usage
    alone = AppShares("meta:app", 0.25, workspaces=10, app_percent=20.0, calls={Y: 5})
    assert not alone.app_wide(Y)  # nobody else calls: pausing the app would pause Y alone


async def test_calls_are_counted_per_workspace_and_bucket(runtime: Runtime) -> None:
    ws_a, _ = await make_account(runtime, provider=Provider.INSTAGRAM)
    ws_b, _ = await make_account(runtime, provider=Provider.FACEBOOK)
    now = datetime(2026, 12, 2, 12, 1, tzinfo=UTC)  # not the last second of a bucket
    async with runtime.sessionmaker() as s, s.begin():
        await record_calls(s, app_key="meta:app", calls={ws_a: (10, 30.0)}, now=now)
    async with runtime.sessionmaker() as s, s.begin():
        await record_calls(
            s,
            app_key="meta:app",
            calls={ws_a: (5, None), ws_b: (5, 40.0)},
            now=now + timedelta(seconds=1),
        )
    async with runtime.sessionmaker() as s:
        rows = {r.workspace_id: r for r in await s.scalars(select(AppQuotaUsage))}
        shares = await load_shares(
            s, app_key="meta:app", fraction=0.25, now=now + timedelta(1 / 86400 * 2)
        )
    assert rows[ws_a].calls == 15
    assert rows[ws_a].app_percent == 30.0
    assert rows[ws_a].bucket_start == bucket_of(now)
    assert shares.calls == {ws_a: 15, ws_b: 5}
    assert shares.app_percent == 40.0
    assert shares.workspaces == 2
    assert shares.used_by(ws_a) == 30.0


def test_bucket_of_cuts_five_minutes() -> None:
    assert bucket_of(datetime(2026, 12, 2, 12, 7, 31, tzinfo=UTC)) == datetime(
        2026, 12, 2, 12, 5, tzinfo=UTC
    )


# --- against the sandbox ----------------------------------------------------------------------


async def _keys(runtime: Runtime) -> set[str]:
    async with runtime.sessionmaker() as s:
        return set(await s.scalars(select(ThrottleState.key)))


def _ids(posts: list[TrackedPost]) -> list[uuid.UUID]:
    return [p.external_row_id for p in posts]


@pytest.mark.sandbox
async def test_app_refusal_within_share_while_others_call_pauses_app_scoped_accounts_only(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ws_w, _, posts_w = await track_new_workspace(runtime, ctl, demo, "ig_user", 1)
    ws_c, acc_c, posts_c = await track_new_workspace(runtime, ctl, demo, "ig_user", 5)
    _, _, posts_b = await track_new_workspace(runtime, ctl, demo, "fb_page", 5)
    # C has been calling with its user token (this process saw so): most of the app's usage.
    refresher.clients.app_scoped_accounts.add(acc_c)
    async with runtime.sessionmaker() as s, s.begin():
        await record_calls(
            s, app_key="meta:app", calls={ws_c: (40, 90.0), ws_w: (5, None)}, now=utcnow()
        )
    await ctl.set_quotas(meta_app_calls_per_hour=0)  # Meta refuses the next app call: code 4
    report = await refresher.refresh(_ids(posts_w))
    assert {o.error_kind for o in report.outcomes} == {"throttled"}
    assert (await ctl.counters())["errors_by_code"] == {"4": 1}
    # W is within its share and C calls too: the app's budget is spent for everyone on it.
    assert {"meta:app", share_key("meta:app", ws_w)} <= await _keys(runtime)
    # The page token is not on the app's budget: fetched. C's user token waits, uncalled.
    page = await refresher.refresh(_ids(posts_b))
    assert page.count("fetched") == 5
    calls = (await ctl.counters())["requests"]
    parked = await refresher.refresh(_ids(posts_c))
    assert {o.error_kind for o in parked.outcomes} == {"throttled"}
    assert (await ctl.counters())["requests"] == calls
    async with runtime.sessionmaker() as s:
        counted = {r.workspace_id: r.calls for r in await s.scalars(select(AppQuotaUsage))}
    assert counted == {ws_c: 40, ws_w: 6}  # W's refused call counted; B's page calls not


@pytest.mark.sandbox
async def test_app_refusal_to_a_workspace_calling_alone_pauses_its_share_only(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ws_w, _, posts_w = await track_new_workspace(runtime, ctl, demo, "ig_user", 1)
    _, acc_c, posts_c = await track_new_workspace(runtime, ctl, demo, "ig_user", 5)
    refresher.clients.app_scoped_accounts.add(acc_c)
    await ctl.set_quotas(meta_app_calls_per_hour=0)
    report = await refresher.refresh(_ids(posts_w))
    assert {o.error_kind for o in report.outcomes} == {"throttled"}
    assert await _keys(runtime) == {share_key("meta:app", ws_w)}
    # C is not paused by Postmeter for W's refusal: its own call is made (and refused by Meta,
    # which then pauses C's share: only Meta knows the app's budget is spent).
    calls = (await ctl.counters())["requests"]
    await refresher.refresh(_ids(posts_c))
    assert (await ctl.counters())["requests"] == calls + 5  # its five posts, one batch
