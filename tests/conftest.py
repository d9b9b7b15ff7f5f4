"""Test harness.

Database tests run once per backend: SQLite always, PostgreSQL as well when
`TEST_DATABASE_URL` names a PostgreSQL database. Each test gets a clean database: a copy of
a migrated SQLite template file, or truncated PostgreSQL tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.config import Settings, get_settings
from app.core.runtime import Runtime, build_runtime
from app.core.security import generate_encryption_key
from app.main import create_app
from app.models import Base
from app.services.migrations import upgrade_database
from app.services.workspaces import create_workspace
from tests.app_client import app_client

pytest_plugins = ["tests.sandbox_harness"]

TEST_KEY = generate_encryption_key()
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL.startswith(("postgresql", "postgres")) else [])


def free_port() -> int:
    """A TCP port free on loopback right now (for sandbox and server subprocesses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATA_DIR": tmp,
        "DATABASE_URL": database_url,
        "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "LOG_FORMAT": "json",
        # Tests read a summary right after changing what it counts; the summary's cache has
        # tests of its own (tests/services/test_summary_cache.py), with its interval set.
        "INSIGHTS_SUMMARY_CACHE_SECONDS": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or environment for Postmeter settings."""
    for name in list(os.environ):
        if name in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    settings = make_settings(folder, f"sqlite:///{folder / 'template.sqlite'}")

    async def _migrate() -> None:
        rt = build_runtime(settings)
        await upgrade_database(rt.engine)
        await rt.aclose()

    asyncio.run(_migrate())
    return folder / "template.sqlite"


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """Migrate the PostgreSQL test database once (from scratch) per session."""
    url = make_url(PG_URL).set(drivername="postgresql")

    async def _reset_and_migrate() -> None:
        settings = make_settings(Path("."), url.render_as_string(hide_password=False))
        rt = build_runtime(settings)
        async with rt.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await upgrade_database(rt.engine)
        await rt.aclose()

    asyncio.run(_reset_and_migrate())
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "postmeter.sqlite"
        shutil.copyfile(template, target)
        target.chmod(0o600)  # as Postmeter keeps it (else every test logs files.mode_fixed)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_migrated")
    return url


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """Plain test settings; aimed at the in-process sandbox for tests marked `sandbox`."""
    if request.node.get_closest_marker("sandbox") is not None:
        from tests.sandbox_harness import sandbox_settings

        return sandbox_settings(tmp_path, database_url)
    return make_settings(tmp_path, database_url)


async def _truncate_pg(runtime: Runtime) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings)
    if not settings.is_sqlite:
        await _truncate_pg(rt)
    yield rt
    await rt.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(runtime.settings, runtime=runtime)) as c:
        yield c


@dataclass
class Tenant:
    workspace_id: str
    key_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_tenant(runtime: Runtime, name: str = "acme") -> Tenant:
    async with runtime.sessionmaker() as session, session.begin():
        _ws, key = await create_workspace(session, name=name)
    return Tenant(str(key.workspace_id), str(key.key_id), key.plaintext)


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime, "acme")


@pytest.fixture
async def other_tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime, "globex")
