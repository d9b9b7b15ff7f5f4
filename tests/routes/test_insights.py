"""`/api/v1/insights` end to end against the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.runtime import Runtime
from app.sandbox.client import SandboxControl
from tests.conftest import Tenant, make_tenant
from tests.routes.helpers import make_account

pytestmark = pytest.mark.sandbox


async def _import(
    api: httpx.AsyncClient, tenant: Tenant, refs: list[tuple[dict[str, Any], str]]
) -> str:
    body = {"refs": [{"account_id": acc["id"], "external_id": ext} for acc, ext in refs]}
    r = await api.post("/api/v1/schedules/import", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_fetch_metrics_history_summary(
    api: httpx.AsyncClient, runtime: Runtime, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    tenant = await make_tenant(runtime)
    fb = await make_account(
        api, tenant, "facebook", external_id=demo["page_id"], access_token=demo["page_token"]
    )
    li = await make_account(
        api,
        tenant,
        "linkedin",
        external_id=demo["org_urn"],
        access_token=demo["org_admin_token"],
    )
    [fb_post] = await ctl.seed_posts(
        "facebook", demo["page_id"], 1, media_type="video", age_hours=5
    )
    [li_post] = await ctl.seed_posts("linkedin", demo["org_id"], 1, age_hours=5)
    sid = await _import(api, tenant, [(fb, fb_post), (li, li_post)])

    r = await api.post(f"/api/v1/insights/fetch/{sid}", json={}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert {x["provider"]: x["status"] for x in r.json()["results"]} == {
        "facebook": "fetched",
        "linkedin": "fetched",
    }
    # A second call inside INSIGHTS_FRESH_SECONDS does not call the platform...
    r = await api.post(f"/api/v1/insights/fetch/{sid}", headers=tenant.headers)
    assert {x["status"] for x in r.json()["results"]} == {"fresh"}
    # ...unless forced.
    await ctl.advance_clock(6 * 3600)
    r = await api.post(
        f"/api/v1/insights/fetch/{sid}", json={"force_refresh": True}, headers=tenant.headers
    )
    assert {x["status"] for x in r.json()["results"]} == {"fetched"}

    m = (await api.get(f"/api/v1/insights/metrics/{sid}", headers=tenant.headers)).json()
    by = {x["provider"]: x for x in m["metrics"]}
    assert by["facebook"]["video_views"] is not None
    assert by["facebook"]["saves"] is None  # not reported by Facebook: null, never 0
    assert by["linkedin"]["clicks"] is not None
    assert not by["facebook"]["stale"]
    assert by["facebook"]["source"] == "meta"
    assert (
        m["totals"]["impressions"] == by["facebook"]["impressions"] + by["linkedin"]["impressions"]
    )
    assert m["totals"]["engagement_rate"] is not None

    h = (
        await api.get(
            f"/api/v1/insights/metrics/{sid}/history",
            params={"provider": "facebook", "limit": 1},
            headers=tenant.headers,
        )
    ).json()
    assert len(h["items"]) == 1
    assert h["next_cursor"] is None  # same day: one bucket, updated in place

    s = (await api.get("/api/v1/insights/summary", headers=tenant.headers)).json()
    assert s["posts_tracked"] == 2
    assert s["fetched_last_24h"] == 2
    assert s["errors_by_kind"] == {}

    # Token expiry and deletion come back as reasons, and the last real snapshot stays.
    await ctl.expire_token(demo["page_token"])
    await ctl.delete_post(li_post)
    r = await api.post(
        f"/api/v1/insights/fetch/{sid}", json={"force_refresh": True}, headers=tenant.headers
    )
    res = {x["provider"]: x for x in r.json()["results"]}
    assert res["facebook"]["error_kind"] == "reconnect_required"
    assert res["linkedin"]["status"] == "error"
    m = (await api.get(f"/api/v1/insights/metrics/{sid}", headers=tenant.headers)).json()
    assert {x["provider"]: x["stale"] for x in m["metrics"]} == {"facebook": True, "linkedin": True}
    s = (await api.get("/api/v1/insights/summary", headers=tenant.headers)).json()
    assert [a["provider"] for a in s["accounts_needing_reconnection"]] == ["facebook"]
    assert s["errors_by_kind"]["reconnect_required"] == 1


async def test_insights_routes_are_workspace_scoped(
    api: httpx.AsyncClient, runtime: Runtime, demo: dict[str, Any]
) -> None:
    owner = await make_tenant(runtime, "owner")
    other = await make_tenant(runtime, "other")
    fb = await make_account(api, owner, "facebook", external_id=demo["page_id"])
    sid = await _import(api, owner, [(fb, f"{demo['page_id']}_1")])
    for method, path in [
        ("POST", f"/api/v1/insights/fetch/{sid}"),
        ("GET", f"/api/v1/insights/metrics/{sid}"),
        ("GET", f"/api/v1/insights/metrics/{sid}/history"),
    ]:
        r = await api.request(method, path, headers=other.headers)
        assert r.status_code == 404, (path, r.text)
    s = (await api.get("/api/v1/insights/summary", headers=other.headers)).json()
    assert s["posts_tracked"] == 0
    draft = await api.post(
        "/api/v1/schedules",
        json={"content": {"text": "x"}, "account_ids": [fb["id"]]},
        headers=owner.headers,
    )
    r = await api.post(f"/api/v1/insights/fetch/{draft.json()['id']}", headers=owner.headers)
    assert r.status_code == 409
    r = await api.get(
        f"/api/v1/insights/metrics/{sid}/history", params={"cursor": "!!"}, headers=owner.headers
    )
    assert r.status_code == 422
