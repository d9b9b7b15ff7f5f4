"""Helpers shared by CLI commands: settings, logging, a runtime for one command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import ConfigError, Settings, load_settings
from app.core.logging import configure_logging
from app.core.runtime import Runtime, build_runtime
from app.services.migrations import migration_status, upgrade_database

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def load_settings_and_logging() -> Settings:
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    return settings


@asynccontextmanager
async def command_runtime(
    *, migrate: bool = True, settings: Settings | None = None
) -> AsyncIterator[Runtime]:
    """A runtime for one command (on `settings`, else loaded, with logging configured). The
    embedded SQLite database is migrated on the way in; PostgreSQL must be migrated explicitly
    (`postmeter db upgrade`), so we only check it."""
    runtime = build_runtime(settings or load_settings_and_logging())
    try:
        if migrate:
            await ensure_schema(runtime)
        yield runtime
    finally:
        await runtime.aclose()


async def ensure_schema(runtime: Runtime) -> None:
    if runtime.settings.is_sqlite:
        await upgrade_database(runtime.engine)
        return
    status = await migration_status(runtime.engine)
    if not status.reachable:
        raise ConfigError("configuration error: DATABASE_URL: the database does not answer")
    if not status.ready:
        raise ConfigError(
            f"database schema is at {status.current}, the code needs {status.head}: "
            "run `postmeter db upgrade`"
        )


def run_in_transaction(fn: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run `fn` in one committed transaction on a fresh runtime."""

    async def _go() -> T:
        async with command_runtime() as runtime, runtime.sessionmaker() as session:
            async with session.begin():
                return await fn(session, runtime)

    return asyncio.run(_go())
