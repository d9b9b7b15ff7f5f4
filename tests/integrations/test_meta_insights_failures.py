"""MetaInsightsClient failure paths: throttling, token errors, timeouts, scrubbing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
import time_machine

from app.integrations.errors import (
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.http import KeyedLimiter, RetryPolicy
from app.integrations.meta_insights import MetaInsightsClient
from tests.integrations.fakes import GRAPH, TOKEN, meta_config


@pytest.fixture
def client(meta_client: MetaInsightsClient) -> MetaInsightsClient:
    return meta_client


async def test_throttle_with_short_retry_after_is_retried() -> None:
    replies = iter([
        httpx.Response(400, headers={"Retry-After": "1"}, json={"error": {
            "code": 80001, "message": "There have been too many calls to this Page"}}),
        httpx.Response(200, json=[{"code": 200, "body": json.dumps({"id": "1_1"})}]),
    ])  # fmt: skip
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").mock(side_effect=lambda _req: next(replies))
        async with MetaInsightsClient(meta_config()) as meta:
            results = await meta.get_fb_post_insights(TOKEN, ["1_1"])
    assert route.call_count == 2
    assert results["1_1"].ok


@time_machine.travel(datetime(2026, 9, 1, 12, 0, tzinfo=UTC), tick=False)
async def test_long_throttle_is_reported_for_parking_not_slept_on() -> None:
    buc = {"1": [{"type": "pages", "call_count": 100, "total_cputime": 5, "total_time": 5,
                  "estimated_time_to_regain_access": 30}]}  # fmt: skip
    limiter = KeyedLimiter()
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").respond(
            400,
            headers={"X-Business-Use-Case-Usage": json.dumps(buc)},
            json={"error": {"code": 32, "message": "Page request limit reached"}},
        )
        async with MetaInsightsClient(meta_config(), limiter=limiter) as meta:
            results = await meta.get_fb_post_insights(TOKEN, ["1_1"], page_id="1")
            assert route.call_count == 1
            error = results["1_1"].error
            assert isinstance(error, ThrottledError)
            assert error.scope == "page"
            assert error.key == "1"
            assert error.retry_after == datetime(2026, 9, 1, 12, 30, tzinfo=UTC)
            # The key is paused: the next call is refused without any HTTP request.
            again = await meta.get_fb_post_insights(TOKEN, ["1_2"], page_id="1")
            assert isinstance(again["1_2"].error, ThrottledError)
    assert route.call_count == 1
    assert limiter.paused_until("1") == datetime(2026, 9, 1, 12, 30, tzinfo=UTC)


async def test_token_error_is_not_retried() -> None:
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").respond(400, json={"error": {
            "code": 190, "error_subcode": 463, "type": "OAuthException",
            "message": "Error validating access token: Session has expired"}})  # fmt: skip
        async with MetaInsightsClient(meta_config()) as meta:
            with pytest.raises(TokenError) as info:
                await meta.get_fb_post_insights(TOKEN, ["1_1", "1_2"])
    assert route.call_count == 1
    assert info.value.subcode == 463


async def test_token_error_stops_remaining_chunks() -> None:
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").respond(400, json={"error": {"code": 190, "message": "x"}})
        async with MetaInsightsClient(meta_config(max_concurrent_batches=1)) as meta:
            with pytest.raises(TokenError):
                await meta.get_fb_post_insights(TOKEN, [f"1_{n}" for n in range(150)])
    assert route.call_count == 1


async def test_timeouts_become_transient_errors_without_the_token() -> None:
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").mock(side_effect=httpx.ReadTimeout(
            f"timed out reading {GRAPH}/v25.0/?access_token={TOKEN}"))  # fmt: skip
        async with MetaInsightsClient(meta_config(retry=RetryPolicy(attempts=2))) as meta:
            results = await meta.get_fb_post_insights(TOKEN, ["1_1"])
    error = results["1_1"].error
    assert route.call_count == 2
    assert isinstance(error, TransientError)
    assert error.__cause__ is None
    assert error.__suppress_context__
    for text in (str(error), repr(error), json.dumps(error.to_dict())):
        assert TOKEN not in text


async def test_connection_error_message_is_scrubbed() -> None:
    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").mock(
            side_effect=httpx.ConnectError(
                f"cannot connect to {GRAPH}/?access_token={TOKEN}&appsecret_proof=abcdef123456"
            )
        )
        async with MetaInsightsClient(meta_config(retry=RetryPolicy(attempts=1))) as meta:
            error = (await meta.get_fb_post_insights(TOKEN, ["1_1"]))["1_1"].error
    assert error is not None
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    assert "abcdef123456" not in str(error)
    assert "access_token=***" in str(error)


def test_retry_after_hint_beyond_policy_gives_up_fast() -> None:
    from app.integrations.http import _retry_hook

    hook = _retry_hook(RetryPolicy(max_retry_after_s=60))
    soon = ThrottledError(
        "x", provider="meta", retry_after=datetime.now(UTC) + timedelta(seconds=5)
    )
    late = ThrottledError("x", provider="meta", retry_after=datetime.now(UTC) + timedelta(hours=1))
    result = hook(soon)
    assert isinstance(result, float)
    assert 0 < result <= 5
    assert hook(late) is False
    assert hook(TokenError("x", provider="meta")) is False
    assert hook(TransientError("x", provider="meta")) is True
