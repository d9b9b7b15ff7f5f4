"""The poller through a database that refuses writes and then takes them again (no restart).

The fault is real: every transaction of Postmeter's engine starts read-only while it is on
(SQLite `PRAGMA query_only`, PostgreSQL `SET TRANSACTION READ ONLY`), so writes fail with the
database's own read-only error. The tests run as root, for whom `chmod` does not make a file
read-only. DBOS keeps its own database, which stays writable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Connection

from app.core.runtime import Runtime
from app.models import ErrorKind, Provider, ScheduleExternal
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher, _Unreleased
from app.services.poll_planner import CLAIM_LEASE
from tests.factories import make_account, track_posts
from tests.sandbox_harness import World
from tests.workers.real_processes import snapshot_counts
from workers import insights_poller


class ReadOnlyDatabase:
    """Makes the engine's transactions read-only: from the first platform request on (`arm`),
    for `transactions` transactions (None: until `writable`). SQLite is switched as a
    connection is checked out (under `PRAGMA query_only` its `BEGIN IMMEDIATE` fails as on a
    read-only file), PostgreSQL as a transaction begins."""

    def __init__(self, runtime: Runtime) -> None:
        self.engine = runtime.engine.sync_engine
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.armed = False
        self.on = False
        self.left: int | None = None
        self.refused = 0
        self.hook = ("checkout", self._checkout) if self.sqlite else ("begin", self._begin)
        event.listen(self.engine, *self.hook)

    def arm(self, transactions: int | None = None) -> None:
        self.armed, self.left = True, transactions

    def writable(self) -> None:
        self.armed = self.on = False

    def platform_called(self) -> None:
        if self.armed:
            self.armed, self.on = False, True

    def _take(self) -> bool:
        on = self.on
        if on and self.left is not None:
            self.left -= 1
            self.on = self.left > 0
        self.refused += on
        return on

    def _checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA query_only={'ON' if self._take() else 'OFF'}")
        cursor.close()

    def _begin(self, conn: Connection) -> None:
        if self._take():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    def remove(self) -> None:
        event.remove(self.engine, *self.hook)


class Tripwire(httpx.AsyncBaseTransport):
    """The sandbox transport; each request first tells the fault a platform call is made."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fault: ReadOnlyDatabase) -> None:
        self.inner, self.fault = inner, fault

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.fault.platform_called()
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def fault(runtime: Runtime) -> AsyncIterator[ReadOnlyDatabase]:
    switch = ReadOnlyDatabase(runtime)
    yield switch
    switch.remove()


@pytest.fixture
async def faulty_poller(
    runtime: Runtime, sandbox_transport: httpx.ASGITransport, fault: ReadOnlyDatabase
) -> AsyncIterator[insights_poller.PollerContext]:
    transport = Tripwire(sandbox_transport, fault)
    ctx = await insights_poller.start_poller(runtime, schedule=False, transport=transport)
    yield ctx
    await insights_poller.stop_poller()


async def _one_batch_world(runtime: Runtime, ctl: SandboxControl, demo: dict[str, Any]) -> World:
    """30 Facebook status posts (one kind: the poller fetches them as one batch)."""
    ws, acc = await make_account(
        runtime, provider=Provider.FACEBOOK, external_id=demo["page_id"], token=demo["page_token"]
    )
    ids = await ctl.seed_posts("facebook", demo["page_id"], 30, media_type="status")
    posts = await track_posts(
        runtime, workspace_id=ws, account_id=acc, provider=Provider.FACEBOOK, external_ids=ids
    )
    return World(
        ws,
        {"fb": acc},
        {"fb": [p.external_row_id for p in posts]},
        {"fb": [p.schedule_id for p in posts]},
        {"fb": ids},
    )


async def _rows(runtime: Runtime, world: World) -> list[Any]:
    async with runtime.sessionmaker() as s:
        result = await s.execute(
            select(
                ScheduleExternal.next_fetch_at,
                ScheduleExternal.last_error_kind,
                ScheduleExternal.consecutive_failures,
            ).where(ScheduleExternal.id.in_(world.rows["fb"]))
        )
        return list(result)


async def _make_due(runtime: Runtime) -> None:
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(
            update(ScheduleExternal).values(next_fetch_at=utcnow() - timedelta(seconds=1))
        )


async def _until_released(runtime: Runtime, world: World, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if {r.last_error_kind for r in await _rows(runtime, world)} == {ErrorKind.STORAGE}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the kept storage failure was never written down")


async def test_concurrent_releases_write_each_kept_failure_once(
    refresher: InsightsRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = [_Unreleased([uuid.uuid4()], None, f"refused {n}") for n in range(3)]
    refresher._unreleased.extend(kept)  # noqa: SLF001 - what earlier refused stores left
    written: list[_Unreleased] = []

    async def write(entry: _Unreleased, now: datetime) -> bool:
        del now
        await asyncio.sleep(0)  # the database's round trip: the other callers run meanwhile
        written.append(entry)
        return True

    monkeypatch.setattr(refresher, "_write_release", write)
    counts = await asyncio.gather(*(refresher.release_unreleased() for _ in range(3)))
    assert sorted(e.message for e in written) == ["refused 0", "refused 1", "refused 2"]
    assert sum(counts) == 3
    assert refresher._unreleased == []  # noqa: SLF001


async def test_a_release_still_refused_stays_first_in_line(
    refresher: InsightsRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = [_Unreleased([uuid.uuid4()], None, f"refused {n}") for n in range(2)]
    refresher._unreleased.extend(kept)  # noqa: SLF001

    async def refused(entry: _Unreleased, now: datetime) -> bool:
        del entry, now
        return False

    monkeypatch.setattr(refresher, "_write_release", refused)
    assert await refresher.release_unreleased() == 0
    assert refresher._unreleased == kept  # noqa: SLF001


async def test_a_release_that_raises_keeps_its_entry(
    refresher: InsightsRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that raises instead of reporting a refusal (a connection error the driver did
    not wrap, a cancellation) leaves the entry owed, first in line."""
    kept = [_Unreleased([uuid.uuid4()], None, f"refused {n}") for n in range(2)]
    refresher._unreleased.extend(kept)  # noqa: SLF001

    async def unreachable(entry: _Unreleased, now: datetime) -> bool:
        del entry, now
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(refresher, "_write_release", unreachable)
    with pytest.raises(ConnectionRefusedError):
        await refresher.release_unreleased()
    assert refresher._unreleased == kept  # noqa: SLF001


async def _assert_released_and_reported(
    runtime: Runtime, api: httpx.AsyncClient, world: World
) -> dict[str, str]:
    """The claim is back (due now, not in 30 minutes), the storage error recorded, counted in
    the summary and shown as stale metrics. Returns the owner's API headers."""
    rows = await _rows(runtime, world)
    assert {r.last_error_kind for r in rows} == {ErrorKind.STORAGE}
    assert all(r.next_fetch_at <= utcnow() for r in rows)
    assert {r.consecutive_failures for r in rows} == {1}
    owner = await world.owner_headers(runtime)
    s = (await api.get("/api/v1/insights/summary", headers=owner)).json()
    assert s["errors_by_kind"] == {"storage": 30}
    assert s["due_now"] == 30
    assert await _stale(api, owner, world) == [True]
    return owner


async def _stale(api: httpx.AsyncClient, owner: dict[str, str], world: World) -> list[bool]:
    url = f"/api/v1/insights/metrics/{world.schedules['fb'][0]}"
    return [m["stale"] for m in (await api.get(url, headers=owner)).json()["metrics"]]


async def test_failed_store_releases_the_claim_at_once_and_counts_it(
    runtime: Runtime,
    faulty_poller: insights_poller.PollerContext,
    fault: ReadOnlyDatabase,
    ctl: SandboxControl,
    demo: dict[str, Any],
    api: httpx.AsyncClient,
) -> None:
    world = await _one_batch_world(runtime, ctl, demo)
    first = await insights_poller.run_once()
    assert first.fetched == 30
    await _make_due(runtime)
    # The batch's write transaction is refused; the database takes writes again right after.
    fault.arm(transactions=1)
    summary = await insights_poller.run_once()
    assert fault.refused == 1
    assert summary.fetched == 0
    assert summary.errors == {"storage": 30}
    # The release, a transaction of its own, went through at once.
    owner = await _assert_released_and_reported(runtime, api, world)
    # The next pass fetches and stores them.
    again = await insights_poller.run_once()
    assert again.fetched == 30, again.errors
    assert await snapshot_counts(runtime) == (30, 30, 30)
    s = (await api.get("/api/v1/insights/summary", headers=owner)).json()
    assert s["errors_by_kind"] == {}


async def test_read_only_database_then_writable_poller_recovers_without_restart(
    runtime: Runtime,
    faulty_poller: insights_poller.PollerContext,
    fault: ReadOnlyDatabase,
    ctl: SandboxControl,
    demo: dict[str, Any],
    api: httpx.AsyncClient,
) -> None:
    world = await _one_batch_world(runtime, ctl, demo)
    await insights_poller.run_once()
    await _make_due(runtime)
    fault.arm()  # read-only from the first platform call of the pass on, until `writable`
    summary = await insights_poller.run_once()
    assert summary.errors == {"storage": 30}
    assert fault.refused >= 2  # the store, and the release after it
    # Nothing could be written: the claim still holds the posts, for now (read with the
    # fault lifted for a moment: a background transaction starts IMMEDIATE, refused too).
    fault.on = False
    rows = await _rows(runtime, world)
    fault.on = True
    assert all(r.next_fetch_at > utcnow() + CLAIM_LEASE - timedelta(minutes=5) for r in rows)
    assert {r.last_error_kind for r in rows} == {None}
    fault.writable()
    # The refresher kept what it could not write and puts it down before the next claim:
    # released and counted without waiting out the 30-minute lease. Whichever call comes
    # first writes it (a batch's refresh starts with one too; in CI one did, meanwhile).
    assert await faulty_poller.refresher.release_unreleased() in (0, 30)
    await _until_released(runtime, world)
    owner = await _assert_released_and_reported(runtime, api, world)
    again = await insights_poller.run_once()
    assert again.fetched == 30, again.errors
    assert await snapshot_counts(runtime) == (30, 30, 30)
    assert await _stale(api, owner, world) == [False]


async def test_fetch_now_on_a_read_only_database_reports_storage_and_records_it_later(
    runtime: Runtime,
    refresher: InsightsRefresher,
    fault: ReadOnlyDatabase,
    ctl: SandboxControl,
    demo: dict[str, Any],
) -> None:
    world = await _one_batch_world(runtime, ctl, demo)
    fault.arm()
    fault.platform_called()  # read-only before the refresh starts
    # SQLite refuses even the read (a background transaction starts IMMEDIATE): nothing is
    # fetched. PostgreSQL reads, fetches, and refuses the store. Either way: storage, no raise.
    report = await refresher.refresh(world.rows["fb"])
    assert report.error_counts() == {ErrorKind.STORAGE: 30}
    fault.writable()
    assert await refresher.release_unreleased() == 30
    rows = await _rows(runtime, world)
    assert {r.last_error_kind for r in rows} == {ErrorKind.STORAGE}
    # Not a poller claim: the post's own next fetch time is left as it was.
    assert all(r.next_fetch_at is not None for r in rows)
    assert await snapshot_counts(runtime) == (0, 0, 0)
