"""The summary's cache (app.services.summary_cache): one computation per interval and
workspace, one at a time, never a failed one kept, never one workspace's answer for another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import main
from app.core.runtime import Runtime, build_runtime
from app.main import create_app
from app.models import Provider
from app.schemas.insights import PublishingCounts, SummaryOut
from app.services.summary_cache import SummaryCache
from tests.app_client import app_client
from tests.conftest import Tenant, make_settings, make_tenant
from tests.factories import make_account, track_posts

WS_A, WS_B = uuid.uuid4(), uuid.uuid4()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def summary(tracked: int) -> SummaryOut:
    return SummaryOut(
        computed_at=datetime.now(UTC),
        posts_tracked=tracked,
        due_now=0,
        fetched_last_24h=0,
        errors_by_kind={},
        accounts_needing_reconnection=[],
        throttled=[],
        publishing=PublishingCounts(due=0, publishing=0, failed_24h=0, unknown=0),
    )


class Computations:
    """A compute function that counts its calls and answers with its call number."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> SummaryOut:
        self.calls += 1
        return summary(self.calls)


async def test_kept_for_the_interval_then_computed_again() -> None:
    clock, compute = Clock(), Computations()
    cache = SummaryCache(5, clock=clock)
    assert (await cache.get(WS_A, compute)).posts_tracked == 1
    clock.now += 4.9
    assert (await cache.get(WS_A, compute)).posts_tracked == 1
    clock.now += 0.1
    assert (await cache.get(WS_A, compute)).posts_tracked == 2
    assert compute.calls == 2


async def test_workspaces_never_share_an_entry() -> None:
    cache = SummaryCache(5, clock=Clock())
    a, b = Computations(), Computations()
    b.calls = 40
    assert (await cache.get(WS_A, a)).posts_tracked == 1
    assert (await cache.get(WS_B, b)).posts_tracked == 41
    assert (await cache.get(WS_A, b)).posts_tracked == 1  # A's, though b would answer 42
    assert (a.calls, b.calls) == (1, 41)


class Gated:
    """A compute function that counts its calls and finishes only once released."""

    def __init__(self, finish: Callable[[int], SummaryOut]) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.finish = finish

    async def __call__(self) -> SummaryOut:
        self.calls += 1
        await self.release.wait()
        return self.finish(self.calls)


async def ask_together(cache: SummaryCache, compute: Gated, n: int) -> list[Any]:
    """`n` concurrent requests for WS_A, the computation released once they all wait."""
    waiting = [asyncio.create_task(cache.get(WS_A, compute)) for _ in range(n)]
    await asyncio.sleep(0.01)
    compute.release.set()
    return await asyncio.gather(*waiting, return_exceptions=True)


async def test_concurrent_requests_wait_for_the_one_computation() -> None:
    compute = Gated(lambda _calls: summary(7))
    answers = await ask_together(SummaryCache(5, clock=Clock()), compute, 20)
    assert compute.calls == 1
    assert {a.posts_tracked for a in answers} == {7}


async def test_a_failed_computation_is_not_kept() -> None:
    cache = SummaryCache(5, clock=Clock())

    async def broken() -> SummaryOut:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        await cache.get(WS_A, broken)
    compute = Computations()
    assert (await cache.get(WS_A, compute)).posts_tracked == 1


async def test_a_cancelled_computation_leaves_the_next_request_to_compute() -> None:
    cache = SummaryCache(5, clock=Clock())
    started = asyncio.Event()

    async def hangs() -> SummaryOut:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    first = asyncio.create_task(cache.get(WS_A, hangs))
    await started.wait()
    compute = Computations()
    second = asyncio.create_task(cache.get(WS_A, compute))  # waits for the first's turn
    await asyncio.sleep(0)
    first.cancel()  # the client went away
    assert (await asyncio.wait_for(second, 1)).posts_tracked == 1


async def test_no_interval_computes_every_time() -> None:
    cache, compute = SummaryCache(0), Computations()
    for _ in range(3):
        await cache.get(WS_A, compute)
    assert compute.calls == 3


async def test_waiters_take_a_slow_computations_answer_past_the_interval() -> None:
    """Each waiter used to find the entry already expired and compute again, one after
    another: 10 requests, 10 computations, for a computation slower than the interval."""
    clock = Clock()

    def finish(calls: int) -> SummaryOut:
        clock.now += 1  # longer than the interval
        return summary(calls)

    compute = Gated(finish)
    answers = await ask_together(SummaryCache(0.05, clock=clock), compute, 10)
    assert compute.calls == 1
    assert {a.posts_tracked for a in answers} == {1}


async def test_waiters_share_the_computations_error() -> None:
    def finish(_calls: int) -> SummaryOut:
        raise RuntimeError("database is locked")

    compute = Gated(finish)
    results = await ask_together(SummaryCache(5, clock=Clock()), compute, 5)
    assert compute.calls == 1  # the database was asked once, not once per waiting request
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_expired_entries_are_dropped() -> None:
    clock = Clock()
    cache = SummaryCache(5, clock=clock)
    await cache.get(WS_A, Computations())
    clock.now += 10
    await cache.get(WS_B, Computations())
    assert set(cache._entries) == {WS_B}  # noqa: SLF001 - the memory bound under test
    assert cache._pending == {}  # noqa: SLF001


@pytest.fixture
def api_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of the summary cache the app's lifespan builds."""
    clock = Clock()
    monkeypatch.setattr(main, "SummaryCache", lambda ttl: SummaryCache(ttl, clock=clock))
    return clock


@pytest.fixture
async def cached_api(
    api_clock: Clock, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The API with the default summary interval (the tests' settings turn it off)."""
    settings = make_settings(tmp_path, database_url, INSIGHTS_SUMMARY_CACHE_SECONDS=5)
    runtime = build_runtime(settings)
    async with app_client(create_app(settings, runtime=runtime)) as client:
        yield client, runtime
    await runtime.aclose()


async def test_the_api_serves_a_workspaces_summary_from_the_cache_for_its_interval(
    cached_api: tuple[httpx.AsyncClient, Runtime], api_clock: Clock
) -> None:
    client, runtime = cached_api
    owner: Tenant = await make_tenant(runtime, "owner")
    other: Tenant = await make_tenant(runtime, "other")

    async def read(tenant: Tenant) -> dict[str, Any]:
        r = await client.get("/api/v1/insights/summary", headers=tenant.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    first = await read(owner)
    assert first["posts_tracked"] == 0
    assert (await read(other))["posts_tracked"] == 0
    _ws, account = await make_account(runtime, workspace_id=uuid.UUID(owner.workspace_id))
    await track_posts(
        runtime,
        workspace_id=uuid.UUID(owner.workspace_id),
        account_id=account,
        provider=Provider.FACEBOOK,
        external_ids=["1234567890_1", "1234567890_2"],
    )
    api_clock.now += 4.9
    assert await read(owner) == first  # the same figures, the same computed_at: kept
    api_clock.now += 0.1
    later = await read(owner)
    assert later["posts_tracked"] == 2
    computed = [datetime.fromisoformat(b["computed_at"]) for b in (first, later)]
    assert computed[1] > computed[0]
    assert (await read(other))["posts_tracked"] == 0
