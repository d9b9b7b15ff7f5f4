"""Shared HTTP plumbing: client, retries, Retry-After, usage headers, keyed limiter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote_plus

import httpx
import pytest
import stamina
import time_machine

from app.integrations.errors import ThrottledError, TokenError, TransientError
from app.integrations.graph_batch import encode_batch_field
from app.integrations.http import (
    KeyedLimiter,
    RetryPolicy,
    call_with_retry,
    make_async_client,
    parse_meta_usage,
    parse_retry_after,
)

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


async def test_make_async_client_settings() -> None:
    client = make_async_client("https://graph.test", timeout=15, max_connections=7)
    try:
        assert str(client.base_url) == "https://graph.test"
        assert client.timeout.read == 15
        assert client.timeout.connect == 10
        assert not client.follow_redirects
    finally:
        await client.aclose()


async def test_call_with_retry_retries_transient_only() -> None:
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise TransientError("boom", provider="meta")
        return "ok"

    assert await call_with_retry(RetryPolicy(attempts=5), flaky) == "ok"
    assert calls["n"] == 3

    async def permanent() -> str:
        calls["n"] += 1
        raise TokenError("expired", provider="meta")

    calls["n"] = 0
    with pytest.raises(TokenError):
        await call_with_retry(RetryPolicy(attempts=5), permanent)
    assert calls["n"] == 1


async def test_call_with_retry_is_bounded() -> None:
    calls = {"n": 0}

    async def always() -> None:
        calls["n"] += 1
        raise TransientError("boom", provider="meta")

    with stamina.set_testing(True, attempts=10, cap=True), pytest.raises(TransientError):
        await call_with_retry(RetryPolicy(attempts=4), always)
    assert calls["n"] == 4


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", now=NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Tue, 01 Sep 2026 12:05:00 GMT", now=NOW) == NOW + timedelta(minutes=5)
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_parse_meta_usage() -> None:
    headers = httpx.Headers({
        "X-App-Usage": json.dumps({"call_count": 28, "total_cputime": 4, "total_time": 9}),
        "X-Business-Use-Case-Usage": json.dumps({
            "111": [{"type": "pages", "call_count": 96, "total_cputime": 20, "total_time": 30,
                     "estimated_time_to_regain_access": 0}],
            "222": [{"type": "instagram", "call_count": 100, "total_cputime": 1,
                     "total_time": 1, "estimated_time_to_regain_access": 17}],
        }),
    })  # fmt: skip
    usage = parse_meta_usage(headers)
    assert usage is not None
    assert usage.app_percent == 28
    assert usage.max_percent == 100
    assert usage.regain_access_minutes == 17
    (entry,) = usage.for_business("111")
    assert (entry.type, entry.call_count, entry.max_percent) == ("pages", 96, 96)


def test_parse_meta_usage_absent_or_malformed() -> None:
    assert parse_meta_usage(httpx.Headers({})) is None
    assert parse_meta_usage(httpx.Headers({"X-App-Usage": "{not json"})) is None
    only_app = parse_meta_usage(httpx.Headers({"x-app-usage": '{"call_count": 5}'}))
    assert only_app is not None
    assert only_app.max_percent == 5
    assert only_app.business == ()


def test_limiter_slows_down_above_threshold() -> None:
    limiter = KeyedLimiter(max_rate=10, time_period=1)
    limiter.observe_usage("p", 50)
    assert limiter.cost("p") == 1.0
    limiter.observe_usage("p", 87.5)
    assert limiter.cost("p") == pytest.approx(2.0)
    limiter.observe_usage("p", 99.9)
    assert limiter.cost("p") == pytest.approx(10.0)
    limiter.observe_usage("p", 10)
    assert limiter.cost("p") == 1.0


@time_machine.travel(NOW, tick=False)
async def test_limiter_pause_and_resume(time_machine: time_machine.TimeMachineFixture) -> None:
    limiter = KeyedLimiter()
    limiter.observe_usage("page", 100, regain_minutes=10, scope="page")
    assert limiter.paused_until("page") == NOW + timedelta(minutes=10)
    with pytest.raises(ThrottledError) as info:
        await limiter.acquire("app", "page")
    assert info.value.retry_after == NOW + timedelta(minutes=10)
    assert info.value.scope == "page"
    await limiter.acquire("other")  # other keys are unaffected
    time_machine.move_to(NOW + timedelta(minutes=11))
    assert limiter.paused_until("page") is None
    await limiter.acquire("page")


def test_limiter_pause_never_shortens_and_dict_is_bounded() -> None:
    limiter = KeyedLimiter(max_keys=3)
    later = datetime.now(UTC) + timedelta(hours=2)
    limiter.pause("k", later)
    limiter.pause("k", later - timedelta(hours=1))
    assert limiter.paused_until("k") == later
    for key in ("a", "b", "c", "d"):
        limiter.cost(key)
        limiter.observe_usage(key, 1)
    assert limiter.paused_until("k") is None  # evicted as least recently used


@pytest.mark.parametrize(
    "urls",
    [
        ["123_456?fields=id,insights.metric(post_media_view){values}"],
        [
            "17900000000000020?fields=media_type,insights.metric(views,reach){values}",
            "17900000000000021?fields=media_type,insights.metric(views,reach){values}",
            'v1?fields=a%20b&x=ü "q" \\\\ +&=',
            "no-query",
            "a?",
        ],
        [],
    ],
)
def test_encode_batch_field_is_the_form_encoding_of_the_batch_json(urls: list[str]) -> None:
    batch = [{"method": "GET", "relative_url": url} for url in urls]
    expected = quote_plus(json.dumps(batch, separators=(",", ":"), ensure_ascii=False))
    assert encode_batch_field(urls) == expected
    assert json.loads(parse_qs(f"batch={encode_batch_field(urls)}")["batch"][0]) == batch
