"""Migrations create every table on each backend, and the models match them (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.core.runtime import Runtime
from app.models import Base


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
