"""Database faults (issue 10, finding 5): with the files made read-only while serving, writes
answered 500, and once write access came back many requests still answered 500 until a
restart (SQLite opens a file it may not write read-only, silently, and such a connection stays
read-only; likewise a PostgreSQL session opened under default_transaction_read_only); /readyz
said ok throughout.

Now a write during the fault answers 503 with a clear code, /readyz names the failing check,
and the API recovers without a restart: a connection that failed so is discarded.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from app.core.db import DatabaseFault, database_fault
from app.core.runtime import Runtime
from app.services.readiness import WRITE_TTL_SECONDS
from tests.conftest import Tenant
from tests.routes.helpers import PROVIDER_IDS


def _chattr(flag: str, paths: list[Path]) -> None:
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    subprocess.run([chattr, flag, *map(str, paths)], check=True, capture_output=True)  # noqa: S603


@asynccontextmanager
async def sqlite_read_only(runtime: Runtime) -> AsyncIterator[None]:
    """The database file and its WAL made immutable: even root may not write or open them for
    writing (chattr +i), as a read-only mount or a chmod would for the service's user. The
    shared-memory index stays writable: SQLite maps it, and an immutable mapping is SIGBUS."""
    database = runtime.settings.database_url.database
    assert database
    files = [Path(database), Path(f"{database}-wal")]
    try:
        _chattr("+i", files)
    except subprocess.CalledProcessError as exc:  # not root, or a file system without it
        pytest.skip(f"chattr +i refused: {exc.stderr!r}")
    try:
        yield
    finally:
        _chattr("-i", files)


@asynccontextmanager
async def postgresql_read_only(runtime: Runtime) -> AsyncIterator[None]:
    """New sessions on the database are read-only and the open ones are cut, as after a
    failover onto a server that does not take writes yet."""
    url = make_url(runtime.settings.database_url).set(drivername="postgresql")
    # Its own sessions write whatever the database's default (a run killed mid-fault left it
    # on: it is reset first, and whatever happens, after).
    admin = await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False),
        autocommit=True,
        options="-c default_transaction_read_only=off",
    )
    name = url.database
    await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    try:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        await admin.close()


def account_body(n: int) -> dict[str, str]:
    return {
        "provider": "facebook",
        "external_id": f"{PROVIDER_IDS['facebook']}{n}",
        "name": f"page {n}",
        "access_token": "facebook-token-abcdef123456",
    }


async def test_the_api_recovers_from_a_read_only_database_without_a_restart(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    fault = sqlite_read_only if runtime.settings.is_sqlite else postgresql_read_only
    headers = tenant.headers
    counter = iter(range(1_000))

    async def post() -> httpx.Response:
        return await client.post(
            "/api/v1/accounts", json=account_body(next(counter)), headers=headers
        )

    async def many(request: Callable[[], Awaitable[httpx.Response]], n: int) -> list[int]:
        return [r.status_code for r in await asyncio.gather(*(request() for _ in range(n)))]

    def listing() -> Awaitable[httpx.Response]:
        return client.get("/api/v1/accounts", headers=headers)

    assert (await post()).status_code == 201
    assert (await client.get("/readyz")).status_code == 200
    # A bound, so that code which hangs in the fault fails here and the files are restored.
    async with asyncio.timeout(60), fault(runtime):
        # Writes fail, with a 503 that says why (never a 500), several connections at once.
        statuses = await many(post, 6)
        assert set(statuses) == {503}, statuses
        r = await post()
        assert r.json()["error"]["code"] in {"database_read_only", "database_unavailable"}, r.text
        assert r.headers["Retry-After"] == "1"
        await asyncio.sleep(WRITE_TTL_SECONDS)  # the last good write is not repeated before
        r = await client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["failing"] == ["write"]
        assert r.json()["write"] in {"read_only", "unavailable"}
        # Reads go on, and open more connections while the files are read-only.
        assert set(await many(listing, 8)) == {200}
    # Write access is back: ready at once, and every request succeeds (no restart).
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["failing"] == []
    statuses = await many(post, 8) + await many(listing, 8)
    assert set(statuses) == {200, 201}, statuses
    for _ in range(10):
        assert (await post()).status_code == 201
    r = await listing()
    assert len(r.json()["items"]) == 1 + 8 + 10


def test_faults_are_classified_by_driver_codes_not_messages() -> None:
    import sqlite3

    def sqlite_error(code: int) -> sa_exc.OperationalError:
        orig = sqlite3.OperationalError("whatever the message")
        orig.sqlite_errorcode = code
        return sa_exc.OperationalError("stmt", {}, orig)

    assert database_fault(sqlite_error(5)) is DatabaseFault.BUSY
    assert database_fault(sqlite_error(5 | (1 << 8))) is DatabaseFault.BUSY  # BUSY_RECOVERY
    assert database_fault(sqlite_error(8)) is DatabaseFault.READ_ONLY
    assert database_fault(sqlite_error(10 | (3 << 8))) is DatabaseFault.UNAVAILABLE  # IOERR_WRITE
    assert database_fault(sqlite_error(19)) is None  # a constraint: the caller's fault

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    def pg_error(state: str) -> sa_exc.DBAPIError:
        return sa_exc.DBAPIError("stmt", {}, PgError(state))

    assert database_fault(pg_error("55P03")) is DatabaseFault.BUSY
    assert database_fault(pg_error("57014")) is DatabaseFault.BUSY
    assert database_fault(pg_error("25006")) is DatabaseFault.READ_ONLY
    assert database_fault(pg_error("53100")) is DatabaseFault.UNAVAILABLE
    assert database_fault(pg_error("23505")) is None
    assert database_fault(sa_exc.TimeoutError("QueuePool limit")) is DatabaseFault.BUSY
    assert database_fault(ValueError("no")) is None
