"""Throttling: Meta business-use-case limits pause the page; LinkedIn 429s park until midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.core.runtime import Runtime
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from tests.conftest import make_tenant
from tests.routes.helpers import make_account
from tests.sandbox_harness import build_world

pytestmark = pytest.mark.sandbox


async def test_meta_page_over_quota_is_paused_and_reported(
    runtime: Runtime,
    refresher: InsightsRefresher,
    ctl: SandboxControl,
    demo: dict[str, Any],
    api: httpx.AsyncClient,
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 100})
    await ctl.set_quotas(meta_page_calls_per_day=60)
    report = await refresher.refresh(world.rows["fb"])
    throttled = [o for o in report.outcomes if o.error_kind == "throttled"]
    assert report.count("fetched") >= 50
    assert throttled
    retry_at = throttled[0].retry_at
    assert retry_at is not None
    assert retry_at > datetime.now(UTC)
    # While paused, the page is not called at all.
    calls = refresher.clients.http_calls["meta"]
    again = await refresher.refresh([o.external_row_id for o in throttled])
    assert {o.error_kind for o in again.outcomes} == {"throttled"}
    assert refresher.clients.http_calls["meta"] == calls
    # The summary names the key and until when, to the workspace owning the page.
    owner = await world.owner_headers(runtime)
    s = (await api.get("/api/v1/insights/summary", headers=owner)).json()
    assert [t["key"] for t in s["throttled"]] == [f"account:{world.accounts['fb']}"]
    assert datetime.fromisoformat(s["throttled"][0]["until"]) == retry_at
    assert s["errors_by_kind"]["throttled"] == len(throttled)
    # Another workspace connecting the same page id neither sees nor shares the pause.
    other = await make_tenant(runtime, "viewer")
    await make_account(api, other, "facebook", external_id=demo["page_id"])
    s = (await api.get("/api/v1/insights/summary", headers=other.headers)).json()
    assert s["throttled"] == []


async def test_linkedin_429_parks_key_until_utc_midnight(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"li_org": 10})
    await ctl.set_quotas(linkedin_member_calls_per_day=0)
    report = await refresher.refresh(world.rows["li_org"])
    assert {o.error_kind for o in report.outcomes} == {"throttled"}
    retry_at = report.outcomes[0].retry_at
    assert retry_at is not None
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    assert retry_at == midnight
