"""Async engine and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.core import jsonfast
from app.core.config import Settings
from app.core.files import prepare_sqlite_file

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Take over transaction control from the driver (SQLAlchemy's documented recipe) so that
    # `_sqlite_begin` decides how transactions start and SAVEPOINTs behave.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the poller writes; NORMAL sync is safe under WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: a read-then-write transaction racing another
    # writer then waits on busy_timeout instead of failing with SQLITE_BUSY_SNAPSHOT.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings, *, null_pool: bool = False) -> AsyncEngine:
    """One engine per process. SQLite files get their folder created and WAL pragmas.

    `null_pool` is for one-shot users that open one connection and leave (Alembic's own CLI
    in `alembic/env.py`): nothing pooled outlives them.
    """
    url = settings.async_database_url
    kwargs: dict[str, Any] = {"pool_pre_ping": not settings.is_sqlite}
    if null_pool:
        kwargs["poolclass"] = NullPool
    elif not settings.is_sqlite:
        kwargs["pool_size"] = settings.DATABASE_POOL_SIZE
        kwargs["max_overflow"] = settings.DATABASE_POOL_SIZE
    if settings.is_sqlite:
        if url.database and url.database != ":memory:":
            # Created 0600 before SQLite opens it: its -wal and -shm files take its mode.
            prepare_sqlite_file(Path(url.database))
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    # orjson for JSON columns (the raw payloads are the bulk of every snapshot write).
    engine = create_async_engine(
        url, json_serializer=jsonfast.dumps, json_deserializer=jsonfast.loads, **kwargs
    )
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
