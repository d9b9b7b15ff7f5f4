"""Alembic, driven from code: `postmeter db upgrade`, start-up upgrades and `/readyz`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from app.core.logging import quieted

# setup.py builds the checkout's top-level `alembic/` folder into the wheel under this name.
PACKAGED = "migrations"
CHECKOUT = Path(__file__).resolve().parents[2] / "alembic"


class MigrationsNotFound(RuntimeError):
    """Neither the installed package nor a source checkout holds the migration scripts."""


def migrations_dir() -> Path:
    """The folder with `env.py` and `versions/`: inside the installed package, else the checkout.

    An installed wheel has no checkout around it; an editable install or a plain checkout has
    no `app/migrations/` (the scripts stay in `alembic/` so `alembic upgrade head` works there).
    Alembic reads the scripts as files, so a package that is not on a file system (a zip) is
    refused with a clear error rather than a missing-file one deep inside Alembic.
    """
    packaged = files("app") / PACKAGED
    if packaged.is_dir():
        if not isinstance(packaged, Path) or not (packaged / "env.py").is_file():
            raise MigrationsNotFound(f"{packaged} has no env.py readable as a file")
        return packaged
    if (CHECKOUT / "env.py").is_file():
        return CHECKOUT
    raise MigrationsNotFound(
        f"no migrations: neither app/{PACKAGED}/ in the installed package nor {CHECKOUT}"
    )


def alembic_config() -> Config:
    """Alembic's settings in code, so no `alembic.ini` needs to be found (a wheel has none)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    return cfg


@functools.cache
def head_revision() -> str | None:
    """The packaged migrations' head (read once: it cannot change while the process runs;
    `/readyz` asks on every call)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Run migrations on the given engine (same effect as `alembic upgrade head`)."""
    cfg = alembic_config()

    def _upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    reachable: bool
    current: str | None
    head: str | None

    @property
    def ready(self) -> bool:
        return self.reachable and self.current == self.head


# Alembic logs "Context impl ..." and "Will assume ... DDL" at INFO for every migration
# context: a status check (`/readyz`, polled by anyone) must not write two lines per call.
_MIGRATION_LOGGER = "alembic.runtime.migration"


async def migration_status(engine: AsyncEngine) -> MigrationStatus:
    head = head_revision()
    try:
        async with engine.connect() as connection:
            with quieted(_MIGRATION_LOGGER):
                current = await connection.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision()
                )
    except (SQLAlchemyError, OSError):
        return MigrationStatus(reachable=False, current=None, head=head)
    return MigrationStatus(reachable=True, current=current, head=head)
