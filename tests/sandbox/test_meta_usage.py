"""Usage headers and throttling from real call counters."""

from __future__ import annotations

import json
from typing import Any

from app.sandbox.client import SandboxControl
from tests.sandbox.conftest import Graph


async def test_usage_headers_and_page_throttling(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_quotas(meta_page_calls_per_day=20)
    page = demo["page_id"]
    r = await graph.get(f"/{page}", demo["page_token"])
    usage = json.loads(r.headers["x-business-use-case-usage"])
    (entry,) = usage[page]
    assert entry["type"] == "pages"
    assert entry["call_count"] == 5
    assert entry["estimated_time_to_regain_access"] == 0
    assert "x-app-usage" not in r.headers  # page tokens fall under business use case limits
    for _ in range(19):
        r = await graph.get(f"/{page}", demo["page_token"])
    assert r.status_code == 200
    assert json.loads(r.headers["x-business-use-case-usage"])[page][0]["call_count"] == 100
    r = await graph.get(f"/{page}", demo["page_token"])
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 80001
    assert error["is_transient"] is True
    regain = json.loads(r.headers["x-business-use-case-usage"])[page][0][
        "estimated_time_to_regain_access"
    ]
    assert 1 <= regain <= 24 * 60
    await ctl.advance_clock(regain * 60 + 60)
    r = await graph.get(f"/{page}", demo["page_token"])
    assert r.status_code == 200
    counters = await ctl.counters()
    assert counters["throttled"]["80001"] == 1


async def test_app_usage_with_user_token(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_quotas(app_id=demo["meta_app_id"], meta_app_calls_per_hour=10)
    for i in range(10):
        r = await graph.get("/me", demo["meta_user_token"])
        assert json.loads(r.headers["x-app-usage"])["call_count"] == (i + 1) * 10
    r = await graph.get("/me", demo["meta_user_token"])
    assert r.json()["error"]["code"] == 4
    assert "Application request limit reached" in r.json()["error"]["message"]
    await ctl.advance_clock(3600)
    r = await graph.get("/me", demo["meta_user_token"])
    assert r.status_code == 200


async def test_instagram_throttle_is_80002(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_quotas(meta_ig_calls_per_day=2, meta_app_calls_per_hour=1000)
    ig = demo["ig_user_id"]
    for _ in range(2):
        assert (
            await graph.get(f"/{ig}", demo["meta_user_token"], fields="username")
        ).status_code == 200
    r = await graph.get(f"/{ig}", demo["meta_user_token"], fields="username")
    assert r.json()["error"]["code"] == 80002
    assert json.loads(r.headers["x-business-use-case-usage"])[ig][0]["type"] == "instagram"


async def test_user_token_on_page_over_quota_is_32(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_quotas(meta_page_calls_per_day=1)
    await graph.get(f"/{demo['page_id']}", demo["meta_user_token"])
    r = await graph.get(f"/{demo['page_id']}", demo["meta_user_token"])
    assert r.json()["error"]["code"] == 32
