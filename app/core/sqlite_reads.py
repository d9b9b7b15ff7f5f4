"""SQLite reads for the API without a thread hop per statement.

aiosqlite runs every statement of a connection on that connection's own thread: each execute,
fetch, BEGIN and ROLLBACK is a queue hand-off there and a wake-up of the event loop back, and
under load each hand-off also waits for the GIL. For the API's reads that was most of a
request's cost (a read transaction of one statement: 0.75 ms of CPU, against 0.2 ms run in
place), and the reason throughput fell as connections grew.

A read under WAL never waits for a lock (a deferred transaction reads a snapshot), and the
pages it reads are in the page cache, so a read statement returns in microseconds: it is run
in place, on the event loop, by the standard library's `sqlite3`. This module gives
SQLAlchemy's aiosqlite dialect (through its public `async_creator` option) a connection with
aiosqlite's interface whose awaitables complete at once. It serves the API's read sessions
only; writes, whose `BEGIN IMMEDIATE` may wait for the write lock, stay on aiosqlite.

`tests/core/test_sqlite_reads.py` drives it through SQLAlchemy end to end: a change in how
the dialect talks to its driver fails there first.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


class _Cursor:
    """aiosqlite's Cursor interface over a `sqlite3.Cursor`, run in place."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> _Cursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _InPlaceQueue:
    """What the dialect hands a call to run on aiosqlite's thread (`_tx.put_nowait((future,
    function))`, for `isolation_level`): run at once instead."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # the dialect awaits the future and maps the error
            future.set_exception(exc)


class InPlaceConnection:
    """aiosqlite's Connection interface over a `sqlite3.Connection`, run in place."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        # `_conn` / `_connection` / `_tx` are the names the dialect reaches for (isolation
        # level, and whether the connection is still open before a commit or rollback).
        self._conn: sqlite3.Connection | None = connection
        self._tx = _InPlaceQueue()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """The dialect's forced close (a connection being terminated)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def in_place_connector(path: Path, *, timeout_s: float) -> Callable[[], Any]:
    """SQLAlchemy's `async_creator` for the file at `path`."""

    async def connect() -> InPlaceConnection:
        # check_same_thread=False: the pool may close a connection from the thread that
        # collects it; statements only ever run on the event loop's thread.
        return InPlaceConnection(sqlite3.connect(path, timeout=timeout_s, check_same_thread=False))

    return connect
