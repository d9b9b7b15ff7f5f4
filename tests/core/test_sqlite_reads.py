"""The API's SQLite reads run in place (app.core.sqlite_reads), driven through SQLAlchemy.

These go through the public path (a Runtime's read sessions), so a change in how SQLAlchemy's
aiosqlite dialect talks to its driver fails here first.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import DatabaseFault, database_fault
from app.core.runtime import Runtime, build_runtime
from app.core.sqlite_reads import InPlaceConnection
from tests.conftest import make_settings


@pytest.fixture
async def sqlite_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, f"sqlite:///{tmp_path / 'pm.sqlite'}"))
    async with rt.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1), (2)"))
    yield rt
    await rt.aclose()


async def test_reads_run_in_place_on_their_own_pool(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    assert rt.read_engine is not rt.engine
    threads = {t.ident for t in threading.enumerate()}
    async with rt.api_read_sessionmaker() as session:
        assert await session.scalar(text("SELECT sum(n) FROM t")) == 3
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        assert isinstance(raw, InPlaceConnection)
        # WAL, and the deferred BEGIN of an API read: a transaction that took no lock.
        assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert session.in_transaction()
    # No driver thread was started for it (aiosqlite starts one per connection).
    assert {t.ident for t in threading.enumerate()} <= threads


async def test_a_read_keeps_its_snapshot_and_never_waits_for_the_writer(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    rt = sqlite_runtime
    writer = sqlite3.connect(tmp_path / "pm.sqlite", isolation_level=None)
    try:
        async with rt.api_read_sessionmaker() as session:
            assert await session.scalar(text("SELECT count(*) FROM t")) == 2
            writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            writer.execute("INSERT INTO t VALUES (3)")
            started = time.monotonic()
            async with rt.api_read_sessionmaker() as other:
                assert await other.scalar(text("SELECT count(*) FROM t")) == 2
            assert time.monotonic() - started < 0.5
            writer.execute("COMMIT")
            # The first read's transaction still sees its snapshot.
            assert await session.scalar(text("SELECT count(*) FROM t")) == 2
        async with rt.api_read_sessionmaker() as session:
            assert await session.scalar(text("SELECT count(*) FROM t")) == 3
    finally:
        writer.close()


async def test_errors_are_sqlalchemys_and_the_pool_recovers(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    async with rt.api_read_sessionmaker() as session:
        with pytest.raises(DBAPIError):
            await session.execute(text("SELECT nope FROM t"))
        await session.rollback()
        assert await session.scalar(text("SELECT max(n) FROM t")) == 2
    # Read connections are query_only: a write fails at once (it never waits for the write
    # lock on the event loop), as a read-only fault that discards the connection.
    async with rt.api_read_sessionmaker() as session:
        faulty = (await (await session.connection()).get_raw_connection()).driver_connection
        started = time.monotonic()
        with pytest.raises(DBAPIError) as caught:
            await session.execute(text("INSERT INTO t VALUES (9)"))
        assert time.monotonic() - started < 0.5
        assert database_fault(caught.value) == DatabaseFault.READ_ONLY
    # The faulty connection was discarded, not pooled: the next read is on a fresh one.
    async with rt.api_read_sessionmaker() as session:
        fresh = (await (await session.connection()).get_raw_connection()).driver_connection
        assert fresh is not faulty
        assert await session.scalar(text("SELECT count(*) FROM t")) == 2


async def test_many_concurrent_read_sessions(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime

    async def read() -> int:
        async with rt.api_read_sessionmaker() as session:
            await asyncio.sleep(0)  # hold the connection across an await, as a route does
            return int(await session.scalar(text("SELECT sum(n) FROM t")) or 0)

    assert await asyncio.gather(*(read() for _ in range(40))) == [3] * 40
