"""The poller and fair shares of Meta's app-wide quota: one workspace's user-token calls cannot
pause or delay another workspace's fetching (issue 10, finding 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.runtime import Runtime
from app.models import ThrottleState
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from app.services.quota_shares import share_key
from tests.factories import TrackedPost
from tests.sandbox_harness import World, track_new_workspace
from workers import insights_poller

pytestmark = pytest.mark.sandbox

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _world(ws: uuid.UUID, posts: list[TrackedPost]) -> World:
    return World(ws, {}, {"x": [p.external_row_id for p in posts]}, {}, {})


async def _throttle_keys(runtime: Runtime) -> set[str]:
    async with runtime.sessionmaker() as s:
        return set(await s.scalars(select(ThrottleState.key)))


async def test_a_workspace_flooding_force_fetches_does_not_delay_anothers_polling(
    runtime: Runtime,
    refresher: InsightsRefresher,
    poller: insights_poller.PollerContext,
    ctl: SandboxControl,
    demo: dict[str, Any],
    api: httpx.AsyncClient,
) -> None:
    # Workspace A connected the Instagram account with the Meta *user* token: its calls count
    # against the app's budget. B tracks the Page with its page token (per-page limits only);
    # C tracks the Instagram account with a user token too, and polls normally.
    ws_a, _, posts_a = await track_new_workspace(runtime, ctl, demo, "ig_user", 1)
    ws_b, _, posts_b = await track_new_workspace(runtime, ctl, demo, "fb_page", 20)
    ws_c, _, posts_c = await track_new_workspace(runtime, ctl, demo, "ig_user", 10)
    await ctl.set_quotas(meta_app_calls_per_hour=60)
    # A forces a fetch of its post over and over (what POST /insights/fetch/{id} with
    # force_refresh runs; the API's own rate limit is another matter).
    outcomes = []
    for _ in range(60):
        report = await refresher.refresh([posts_a[0].external_row_id])
        outcomes += [o.error_kind for o in report.outcomes]
    assert outcomes[0] is None  # fetched
    assert "throttled" in outcomes  # A is stopped at its share of the budget ...
    counters = await ctl.counters()
    assert "4" not in counters["errors_by_code"]  # ... before Meta refuses the app (code 4)
    assert counters["requests"] < 60
    keys = await _throttle_keys(runtime)
    assert share_key("meta:app", ws_a) in keys
    assert "meta:app" not in keys
    # The poller then fetches B's and C's posts at once: nothing of theirs waits on A.
    summary = await insights_poller.run_once()
    assert summary.fetched == 30, summary.errors
    assert summary.errors == {}
    for ws in (ws_b, ws_c):
        headers = await _world(ws, []).owner_headers(runtime)
        s = (await api.get("/api/v1/insights/summary", headers=headers)).json()
        assert s["throttled"] == []
        assert s["errors_by_kind"] == {}
    # A's summary names its own share as what it waits for.
    s = (
        await api.get(
            "/api/v1/insights/summary", headers=await _world(ws_a, []).owner_headers(runtime)
        )
    ).json()
    assert [t["key"] for t in s["throttled"]] == [share_key("meta:app", ws_a)]
    assert "share of the app's quota" in s["throttled"][0]["reason"]
