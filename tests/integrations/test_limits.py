"""Meta usage on the limiter and the transport with a `QuotaCaller`: the app's usage slows and
pauses the calling workspace's share, never a key every workspace shares; page-level usage
stays the page's."""

from __future__ import annotations

import json

import pytest
import respx

from app.integrations.errors import ThrottledError
from app.integrations.http import KeyedLimiter
from app.integrations.limits import MetaUsage, QuotaCaller, parse_meta_usage, quota_caller
from app.integrations.meta_insights import MetaInsightsClient
from tests.integrations.fakes import GRAPH, TOKEN, meta_config

SHARE = "meta:app:workspace:w"


def _usage(header: str, percent: int) -> MetaUsage:
    value = json.dumps({"call_count": percent, "total_cputime": 1, "total_time": 1})
    usage = parse_meta_usage({header: value})
    assert usage is not None
    return usage


async def test_app_usage_pauses_the_callers_share_not_the_app() -> None:
    limiter = KeyedLimiter()
    caller = QuotaCaller(SHARE)
    limiter.observe_meta_usage("page-1", _usage("x-app-usage", 100), caller)
    assert caller.app_scoped is True
    assert caller.app_percent == 100
    assert limiter.paused_until(SHARE) is not None
    assert limiter.paused_until("app") is None
    # Another workspace's call, or a page token's, takes no capacity from that share.
    await limiter.acquire(*limiter.keys_for("page-2", QuotaCaller("meta:app:workspace:v")))
    assert limiter.keys_for("page-1", QuotaCaller(SHARE)) == ["app", "page-1"]
    with pytest.raises(ThrottledError) as raised:
        await limiter.acquire(*limiter.keys_for("page-1", caller))
    assert raised.value.scope == "workspace"
    assert raised.value.key == SHARE


async def test_page_usage_header_is_the_pages_not_the_apps() -> None:
    limiter = KeyedLimiter()
    caller = QuotaCaller(SHARE)
    usage = _usage("x-page-usage", 90)
    assert usage.page_level
    limiter.observe_meta_usage("page-1", usage, caller)
    assert caller.app_scoped is None
    assert limiter.cost("page-1") > 1.0
    assert limiter.cost(SHARE) == 1.0


async def test_transport_counts_batch_items_and_learns_app_scope_from_code_4() -> None:
    caller = QuotaCaller(SHARE)
    reset = quota_caller.set(caller)
    try:
        with respx.mock(base_url=GRAPH) as mock:
            route = mock.post("/v25.0/").respond(
                400, json={"error": {"code": 4, "message": "Application request limit reached"}}
            )
            async with MetaInsightsClient(meta_config(), limiter=KeyedLimiter()) as meta:
                results = await meta.get_fb_post_insights(TOKEN, ["1_1", "1_2", "1_3"])
    finally:
        quota_caller.reset(reset)
    assert isinstance(results["1_1"].error, ThrottledError)
    assert caller.app_scoped is True
    # Each batch of three items is three calls on Graph's counters, retries included.
    assert route.call_count > 1
    assert caller.calls == 3 * route.call_count
