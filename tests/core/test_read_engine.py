"""The API's read sessions on both databases (app.core.db.create_read_engine): a pool of their
own, read-only, and on PostgreSQL without a transaction of their own (no BEGIN, settings or
COMMIT round trips per request)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from app.core.db import DatabaseFault, database_fault
from app.core.runtime import Runtime
from app.models import Workspace


async def test_reads_are_read_only_on_a_pool_of_their_own(runtime: Runtime) -> None:
    assert runtime.read_engine is not runtime.engine
    async with runtime.api_read_sessionmaker() as session:
        if not runtime.settings.is_sqlite:
            assert await session.scalar(text("SHOW transaction_read_only")) == "on"
            assert await session.scalar(text("SHOW statement_timeout")) == "15s"
        # PostgreSQL: default_transaction_read_only; SQLite: query_only.
        with pytest.raises(DBAPIError) as caught:
            await session.execute(insert(Workspace).values(name="refused"))
        assert database_fault(caught.value) == DatabaseFault.READ_ONLY


async def test_postgresql_reads_hold_no_transaction(runtime: Runtime) -> None:
    """Autocommit: each statement its own snapshot, nothing held between them (a transaction
    would keep `now()` fixed)."""
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite's reads are deferred transactions (app.core.sqlite_reads)")
    async with runtime.api_read_sessionmaker() as session:
        first = await session.scalar(text("SELECT now()"))
        await session.execute(text("SELECT pg_sleep(0.01)"))
        second = await session.scalar(text("SELECT now()"))
        assert second > first
        # A row committed meanwhile by a writer is seen by the next statement.
        async with runtime.sessionmaker() as writer, writer.begin():
            writer.add(Workspace(name="seen"))
        names = list(await session.scalars(text("SELECT name FROM workspaces")))
        assert "seen" in names
