"""Async engine and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, ExceptionContext
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
from app.core.sqlite_reads import in_place_connector

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    # Take over transaction control from the driver (SQLAlchemy's documented recipe) so that
    # the `begin` hook (`_sqlite_begin_hook`) decides how transactions start and SAVEPOINTs behave.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the poller writes; NORMAL sync is safe under WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()
    record.info[_BUSY_INFO_KEY] = SQLITE_BUSY_TIMEOUT_MS


def _sqlite_read_pragmas(dbapi_conn: Any, record: Any) -> None:
    """A read connection's: as any other's, and query_only, so that a write through it fails
    at once (SQLITE_READONLY) instead of waiting for the write lock on the event loop."""
    _sqlite_pragmas(dbapi_conn, record)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.close()


class TxMode(StrEnum):
    """How a session's transactions start; the `TX_MODE` execution option of its connections.

    One mechanism for both backends: the engine's `begin` hook reads the mode. BACKGROUND is the
    default (the poller, the engine, the CLI), so code that does not ask for a mode keeps
    SQLite's write lock up front and waits as long as it must.
    """

    # SQLite: BEGIN IMMEDIATE, busy_timeout SQLITE_BUSY_TIMEOUT_MS. PostgreSQL: server defaults.
    BACKGROUND = "background"
    # An API write: BEGIN IMMEDIATE, but waits DATABASE_API_LOCK_TIMEOUT_MS for the write lock
    # (PostgreSQL: lock_timeout) and PostgreSQL's statement_timeout, then 503.
    API_WRITE = "api_write"
    # An API read (GET/HEAD): SQLite plain deferred BEGIN, which under WAL reads a snapshot and
    # never waits on a writer; PostgreSQL READ ONLY (no write, so no row lock, can slip in).
    API_READ = "api_read"


TX_MODE = "postmeter_tx_mode"
# Execution option: this connection's lock wait in milliseconds, instead of its mode's (API
# modes only; 0 = take the lock now or fail busy, for best-effort writes that must not wait).
LOCK_TIMEOUT_MS = "postmeter_lock_timeout_ms"

# Where a connection remembers the busy_timeout it has, so the pragma runs only on a change.
_BUSY_INFO_KEY = "postmeter_busy_timeout_ms"


def _sqlite_begin_hook(settings: Settings) -> Any:
    api_busy_ms = settings.DATABASE_API_LOCK_TIMEOUT_MS

    def _sqlite_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        mode = options.get(TX_MODE, TxMode.BACKGROUND)
        if mode == TxMode.BACKGROUND:
            busy_ms = SQLITE_BUSY_TIMEOUT_MS
        else:
            busy_ms = options.get(LOCK_TIMEOUT_MS, api_busy_ms)
        if conn.info.get(_BUSY_INFO_KEY) != busy_ms:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_ms)}")
            conn.info[_BUSY_INFO_KEY] = busy_ms
        # IMMEDIATE takes the write lock up front: a read-then-write transaction racing another
        # writer then waits on busy_timeout instead of failing with SQLITE_BUSY_SNAPSHOT. A read
        # needs no lock at all under WAL, so it starts deferred and never queues behind a writer.
        conn.exec_driver_sql("BEGIN" if mode == TxMode.API_READ else "BEGIN IMMEDIATE")

    return _sqlite_begin


def _postgresql_begin_hook(settings: Settings) -> Any:
    api_lock_ms = settings.DATABASE_API_LOCK_TIMEOUT_MS
    statement_ms = int(settings.DATABASE_API_STATEMENT_TIMEOUT_MS)

    def _postgresql_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        mode = options.get(TX_MODE, TxMode.BACKGROUND)
        if mode == TxMode.BACKGROUND:
            return
        # lock_timeout 0 means "wait forever" on PostgreSQL: a no-wait write asks for 1 ms.
        lock_ms = max(1, int(options.get(LOCK_TIMEOUT_MS, api_lock_ms)))
        read_only = ", set_config('transaction_read_only', 'on', true)"
        # Transaction-local (`true`): nothing outlives the transaction, so a pooled connection
        # handed to the poller next has the server's defaults again. One round trip.
        conn.exec_driver_sql(
            f"SELECT set_config('lock_timeout', '{lock_ms}', true), "
            f"set_config('statement_timeout', '{statement_ms}', true)"
            + (read_only if mode == TxMode.API_READ else "")
        )

    return _postgresql_begin


class DatabaseFault(StrEnum):
    """A database error the API answers with 503 (the value is the error code)."""

    # A lock wait timed out (SQLite busy/locked, PostgreSQL lock_timeout, statement_timeout,
    # deadlock), or no pooled connection came free in time.
    BUSY = "database_busy"
    # The database refuses writes (SQLite read-only file or connection, PostgreSQL read-only
    # transaction or server).
    READ_ONLY = "database_read_only"
    # The database cannot be reached or fails I/O (disk full, I/O error, connection lost).
    UNAVAILABLE = "database_unavailable"


# SQLite primary result codes (the low byte of the extended code).
_SQLITE_FAULTS = {
    5: DatabaseFault.BUSY,  # SQLITE_BUSY
    6: DatabaseFault.BUSY,  # SQLITE_LOCKED
    8: DatabaseFault.READ_ONLY,  # SQLITE_READONLY
    10: DatabaseFault.UNAVAILABLE,  # SQLITE_IOERR
    13: DatabaseFault.UNAVAILABLE,  # SQLITE_FULL
    14: DatabaseFault.UNAVAILABLE,  # SQLITE_CANTOPEN
}
# PostgreSQL SQLSTATEs (exact, then by class: the first two characters).
_PG_FAULTS = {
    "55P03": DatabaseFault.BUSY,  # lock_not_available (lock_timeout)
    "57014": DatabaseFault.BUSY,  # query_canceled (statement_timeout)
    "40P01": DatabaseFault.BUSY,  # deadlock_detected
    "25006": DatabaseFault.READ_ONLY,  # read_only_sql_transaction
    "57P01": DatabaseFault.UNAVAILABLE,  # admin_shutdown
    "57P02": DatabaseFault.UNAVAILABLE,  # crash_shutdown
    "57P03": DatabaseFault.UNAVAILABLE,  # cannot_connect_now
}
_PG_FAULT_CLASSES = {
    "53": DatabaseFault.UNAVAILABLE,  # insufficient_resources (disk full, out of memory)
    "08": DatabaseFault.UNAVAILABLE,  # connection_exception
    "58": DatabaseFault.UNAVAILABLE,  # system_error (I/O)
}


def _driver_error_chain(exc: BaseException) -> list[BaseException]:
    """The error and what it wraps (SQLAlchemy's DBAPIError.orig, the driver's __cause__)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 5:
        chain.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return chain


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """What kind of database fault `exc` is, or None for any other error (a bug, a constraint:
    those stay 4xx/500 as their handlers decide)."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection free in time
        return DatabaseFault.BUSY
    for err in _driver_error_chain(exc):
        code = getattr(err, "sqlite_errorcode", None)
        if isinstance(code, int):
            return _SQLITE_FAULTS.get(code & 0xFF)
        state = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
        if isinstance(state, str) and len(state) == 5:
            return _PG_FAULTS.get(state) or _PG_FAULT_CLASSES.get(state[:2])
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DatabaseFault.UNAVAILABLE
    return None


# Faults after which a connection is not used again (`_discard_faulty_connections`).
DISCARDING_FAULTS = frozenset({DatabaseFault.READ_ONLY, DatabaseFault.UNAVAILABLE})


def _discard_faulty_connections(context: ExceptionContext) -> None:
    """A connection that failed for a read-only or I/O fault is thrown away, not pooled.

    SQLite opens a file it may not write read-only without telling (and stays so); a
    PostgreSQL session opened under `default_transaction_read_only` stays read-only. Marking
    the error a disconnect makes SQLAlchemy close this connection and retire every pooled one
    opened before it, so once the database takes writes again the next connection is fresh.
    A busy database is not a fault of the connection: those are kept.
    """
    if database_fault(context.original_exception) in DISCARDING_FAULTS:
        context.is_disconnect = True


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
        event.listen(engine.sync_engine, "begin", _sqlite_begin_hook(settings))
    else:
        event.listen(engine.sync_engine, "begin", _postgresql_begin_hook(settings))
    event.listen(engine.sync_engine, "handle_error", _discard_faulty_connections)
    return engine


def create_read_engine(settings: Settings, engine: AsyncEngine) -> AsyncEngine:
    """The engine of the API's read sessions (TxMode.API_READ), a pool of its own.

    SQLite file: statements run in place on the event loop (app.core.sqlite_reads; reads
    under WAL never wait for a lock). PostgreSQL: connections that are read-only with the
    API's timeouts from the start (`server_settings`) and read without a transaction of their
    own (autocommit: each statement a snapshot, no lock held between them): no BEGIN, no
    settings statement and no COMMIT per request, three of its seven round trips. In-memory
    SQLite: `engine` itself (a second pool would be another database)."""
    url = settings.async_database_url
    common: dict[str, Any] = {
        "json_serializer": jsonfast.dumps,
        "json_deserializer": jsonfast.loads,
    }
    if not settings.is_sqlite:
        read_engine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_POOL_SIZE,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "server_settings": {
                    "default_transaction_read_only": "on",
                    "statement_timeout": str(int(settings.DATABASE_API_STATEMENT_TIMEOUT_MS)),
                    "lock_timeout": str(max(1, int(settings.DATABASE_API_LOCK_TIMEOUT_MS))),
                }
            },
            **common,
        )
    elif not url.database or url.database == ":memory:":
        return engine
    else:
        read_engine = create_async_engine(
            url,
            # The API's lock wait, not the background's 30 s, from the first pragma on: a
            # lock met while connecting (WAL recovery, a checkpoint) must not hold the loop.
            async_creator=in_place_connector(
                Path(url.database), timeout_s=settings.DATABASE_API_LOCK_TIMEOUT_MS / 1000
            ),
            **common,
        )
        event.listen(read_engine.sync_engine, "connect", _sqlite_read_pragmas)
        event.listen(read_engine.sync_engine, "begin", _sqlite_begin_hook(settings))
    event.listen(read_engine.sync_engine, "handle_error", _discard_faulty_connections)
    return read_engine


def with_mode(engine: AsyncEngine, mode: TxMode) -> AsyncEngine:
    """The engine (same pool) whose connections begin their transactions as `mode` says."""
    return engine if mode == TxMode.BACKGROUND else engine.execution_options(**{TX_MODE: mode})


def create_sessionmaker(
    engine: AsyncEngine, mode: TxMode = TxMode.BACKGROUND
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions start as `mode` says (the same pool for every mode)."""
    bind = with_mode(engine, mode)
    # The session knows its mode too (`session.info[TX_MODE]`), e.g. to leave a write for later.
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, info={TX_MODE: mode})
