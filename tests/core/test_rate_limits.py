"""The rate-limit budgets (app.core.rate_limits) over memory and over Redis (db 1 of the local
Redis, or TEST_REDIS_URL; skipped when no Redis answers)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import redis.asyncio
from pydantic import ValidationError

from app.core.config import Settings
from app.core.logging import configure_logging
from app.core.rate_limits import Budget, RateLimits, build_storage
from tests.conftest import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


async def redis_url_or_skip() -> str:
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        pytest.skip(f"no Redis answering at {REDIS_URL}")
    finally:
        await client.aclose()
    return REDIS_URL


def budgets(spec: str) -> dict[Budget, str]:
    return dict.fromkeys(Budget, spec)


async def test_a_budget_refuses_once_spent_and_says_when_to_come_back() -> None:
    limits = RateLimits(budgets("3/minute"), build_storage("memory://"))
    assert [await limits.hit(Budget.KEY, "k1") for _ in range(3)] == [None, None, None]
    refusal = await limits.hit(Budget.KEY, "k1")
    assert refusal is not None
    assert refusal.budget is Budget.KEY
    assert 1 <= refusal.retry_after <= 60
    assert "3 per 1 minute per API key" in refusal.message
    # Other identities and other budgets are separate.
    assert await limits.hit(Budget.KEY, "k2") is None
    assert await limits.hit(Budget.ADDRESS, "k1") is None


async def test_several_limits_in_one_setting_all_hold() -> None:
    limits = RateLimits(budgets("2/second;3/minute"), build_storage("memory://"))
    assert await limits.hit(Budget.KEY, "k") is None
    assert await limits.hit(Budget.KEY, "k") is None
    per_second = await limits.hit(Budget.KEY, "k")
    assert per_second is not None
    assert per_second.limit == "2 per 1 second"


async def test_redis_budgets_are_shared_between_instances() -> None:
    url = await redis_url_or_skip()
    one = RateLimits(budgets("3/minute"), build_storage(url))
    two = RateLimits(budgets("3/minute"), build_storage(url))
    try:
        await one.reset()
        assert await one.hit(Budget.KEY, "shared") is None
        assert await two.hit(Budget.KEY, "shared") is None
        assert await one.hit(Budget.KEY, "shared") is None
        refusal = await two.hit(Budget.KEY, "shared")
        assert refusal is not None
        assert refusal.retry_after >= 1
        assert await one.allow("1/minute", "log", "x") is True
        assert await two.allow("1/minute", "log", "x") is False
    finally:
        await one.reset()
        await one.aclose()
        await two.aclose()


async def test_a_redis_that_does_not_answer_lets_requests_through_and_says_so() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    limits = RateLimits(budgets("1/minute"), build_storage(f"redis://127.0.0.1:{free_port()}/1"))
    try:
        for _ in range(3):
            assert await limits.hit(Budget.KEY, "k") is None
        assert await limits.allow("1/minute", "x") is True
    finally:
        await limits.aclose()
        configure_logging("INFO", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    warned = [line for line in lines if line["event"] == "rate_limit.storage_unavailable"]
    assert len(warned) == 1  # once a minute, not once a request


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_PER_KEY", "lots"),
        ("RATE_LIMIT_FORCE_REFRESH", "10/fortnight"),
        ("RATE_LIMIT_STORAGE_URL", "postgresql://x/y"),
        ("MAX_REQUEST_BODY_BYTES", "10"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, DATA_DIR=tmp_path, **{name: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == (name,)


def test_disabled_means_no_limits(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, DATA_DIR=tmp_path, RATE_LIMIT_ENABLED=False)
    assert RateLimits.from_settings(settings) is None
