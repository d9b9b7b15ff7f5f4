"""Alembic, driven from code: `postmeter db upgrade`, start-up upgrades and `/readyz`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    return cfg


def head_revision() -> str | None:
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


async def migration_status(engine: AsyncEngine) -> MigrationStatus:
    head = head_revision()
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    except (SQLAlchemyError, OSError):
        return MigrationStatus(reachable=False, current=None, head=head)
    return MigrationStatus(reachable=True, current=current, head=head)
