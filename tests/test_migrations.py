"""Migrations create every table on each backend, the models match them (no drift), and data
migrations rewrite stored values as they say."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from alembic import command
from app.core.runtime import Runtime
from app.models import Base, ErrorKind
from app.services.migrations import alembic_config
from tests.conftest import BACKENDS, PG_URL


async def test_migrations_create_all_tables_without_drift(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
            )
        )
    expected = {
        "workspaces",
        "api_keys",
        "social_accounts",
        "schedules",
        "schedule_targets",
        "schedule_external",
        "post_metrics",
        "schedule_metrics",
        "throttle_states",
        "metric_rejections",
    }
    assert expected <= tables
    assert diff == [], diff


# --- 90fe993d59ce -> b4076295441a: one error vocabulary ------------------------------------

BEFORE_VOCABULARY = "90fe993d59ce"
VOCABULARY = "b4076295441a"
# Stored value before -> after the migration (None: no error).
STORED = {
    "token_expired": "reconnect_required",
    "token": "reconnect_required",
    "no_statistics": "no_data",
    "permanent": "rejected",
    "invalid_request": "rejected",
    "platform": "rejected",
    "never_written_by_any_code": "rejected",
    "reconnect_required": "reconnect_required",
    "account_disconnected": "account_disconnected",
    "real_data_exists": "real_data_exists",
    "not_found": "not_found",
    "deleted": "deleted",
    "no_data": "no_data",
    "throttled": "throttled",
    "permission": "permission",
    "transient": "transient",
    "rejected": "rejected",
    None: None,
}

_workspaces = sa.table("workspaces", sa.column("id", sa.Uuid()), sa.column("name", sa.String()))
_schedules = sa.table(
    "schedules",
    sa.column("id", sa.Uuid()),
    sa.column("workspace_id", sa.Uuid()),
    sa.column("text", sa.Text()),
    sa.column("media_urls", sa.JSON()),
    sa.column("status", sa.String()),
)
_externals = sa.table(
    "schedule_external",
    sa.column("id", sa.Uuid()),
    sa.column("schedule_id", sa.Uuid()),
    sa.column("workspace_id", sa.Uuid()),
    sa.column("provider", sa.String()),
    sa.column("external_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("last_error_kind", sa.String()),
)


@pytest.fixture(params=BACKENDS)
def scratch_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database of its own: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'migrations.sqlite'}")
        yield engine
        engine.dispose()
        return
    schema = f"migrations_{uuid.uuid4().hex[:12]}"
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _kinds(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_externals.c.external_id, _externals.c.last_error_kind))
        return {str(row.external_id): row.last_error_kind for row in rows}


def test_error_kind_migration_maps_stored_values(scratch_engine: sa.Engine) -> None:
    _migrate(scratch_engine, BEFORE_VOCABULARY)
    workspace = uuid.uuid4()
    ids = {old: f"{100 + i}" for i, old in enumerate(STORED)}
    with scratch_engine.begin() as conn:
        conn.execute(sa.insert(_workspaces).values(id=workspace, name="w"))
        for old, external_id in ids.items():
            schedule = uuid.uuid4()
            conn.execute(
                sa.insert(_schedules).values(
                    id=schedule, workspace_id=workspace, text="", media_urls=[], status="posted"
                )
            )
            conn.execute(
                sa.insert(_externals).values(
                    id=uuid.uuid4(),
                    schedule_id=schedule,
                    workspace_id=workspace,
                    provider="facebook",
                    external_id=external_id,
                    status="live",
                    last_error_kind=old,
                )
            )
    _migrate(scratch_engine, VOCABULARY)
    after = _kinds(scratch_engine)
    assert {old: after[external_id] for old, external_id in ids.items()} == STORED
    assert all(kind is None or ErrorKind(kind) for kind in after.values())
    with scratch_engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("throttle_states")}
    assert "usage_percent" not in columns

    # Down again: the old code did not know invalid_metric; usage_percent comes back.
    with scratch_engine.begin() as conn:
        conn.execute(
            sa.update(_externals)
            .where(_externals.c.external_id == ids["transient"])
            .values(last_error_kind="invalid_metric")
        )
    _migrate(scratch_engine, BEFORE_VOCABULARY, down=True)
    assert _kinds(scratch_engine)[ids["transient"]] == "rejected"
    with scratch_engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("throttle_states")}
    assert "usage_percent" in columns


# --- 7394550b1595 -> f0b0b48f65c9: workspaces.disabled_at ------------------------------------

BEFORE_DISABLED_AT = "7394550b1595"
DISABLED_AT = "f0b0b48f65c9"


def _workspace_columns(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns("workspaces")}


def test_disabled_at_migration_keeps_every_workspace_active(scratch_engine: sa.Engine) -> None:
    _migrate(scratch_engine, BEFORE_DISABLED_AT)
    workspace = uuid.uuid4()
    with scratch_engine.begin() as conn:
        conn.execute(sa.insert(_workspaces).values(id=workspace, name="kept"))
    assert "disabled_at" not in _workspace_columns(scratch_engine)
    _migrate(scratch_engine, DISABLED_AT)
    assert "disabled_at" in _workspace_columns(scratch_engine)
    table = sa.table(
        "workspaces", sa.column("id", sa.Uuid()), sa.column("name"), sa.column("disabled_at")
    )
    with scratch_engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.name, table.c.disabled_at)).all()
    assert [tuple(r) for r in rows] == [(workspace, "kept", None)]  # NULL: active
    _migrate(scratch_engine, BEFORE_DISABLED_AT, down=True)
    assert "disabled_at" not in _workspace_columns(scratch_engine)
    with scratch_engine.connect() as conn:
        assert conn.execute(sa.select(_workspaces.c.name)).scalars().all() == ["kept"]
