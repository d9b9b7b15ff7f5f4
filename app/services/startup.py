"""Start-up of a command or a background process: settings, logging, a runtime, the schema.

Shared by the CLI and `workers/` (which the CLI runs), so it lives below both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.core.config import ConfigError, Settings, load_settings
from app.core.files import secure_storage
from app.core.logging import configure_logging
from app.core.runtime import Runtime, build_runtime
from app.services.migrations import migration_status, upgrade_database


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
    settings = settings or load_settings_and_logging()
    secure_storage(settings)  # DATA_DIR 0700, its files 0600 (fixed, with a log line)
    runtime = build_runtime(settings)
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
