"""Migrations are found in the installed package first, else in the checkout, else a clear error.

The wheel itself is built, installed and migrated by `.ci/wheel-smoke`; here the lookup is
checked on a package laid out as setup.py lays out the wheel (`app/migrations/`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.services import migrations
from app.services.migrations import MigrationsNotFound, migrations_dir


def _installed_app(root: Path) -> Path:
    """An `app` package as the wheel installs it: the checkout's `alembic/` as `migrations/`."""
    package = root / "app"
    shutil.copytree(
        migrations.CHECKOUT, package / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    return package


def _installed_at(monkeypatch: pytest.MonkeyPatch, package: Path) -> None:
    monkeypatch.setattr(migrations, "files", lambda name: package if name == "app" else None)


def test_checkout_is_used_when_the_package_has_no_migrations() -> None:
    # The test run is an editable install: the scripts stay in the top-level `alembic/`.
    assert migrations_dir() == migrations.CHECKOUT
    assert (migrations_dir() / "versions").is_dir()


def test_packaged_migrations_come_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = _installed_app(tmp_path)
    _installed_at(monkeypatch, package)
    assert migrations_dir() == package / "migrations"
    packaged_head = migrations.head_revision()
    checkout_head = ScriptDirectory(str(migrations.CHECKOUT)).get_current_head()
    assert packaged_head is not None
    assert packaged_head == checkout_head


async def test_packaged_migrations_upgrade_a_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _installed_at(monkeypatch, _installed_app(tmp_path))
    # No checkout to fall back on: only the packaged copy can serve this upgrade.
    monkeypatch.setattr(migrations, "CHECKOUT", tmp_path / "no-checkout")
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await migrations.upgrade_database(engine)
        status = await migrations.migration_status(engine)
    finally:
        await engine.dispose()
    assert status.ready
    assert status.current == migrations.head_revision()


def test_neither_place_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _installed_at(monkeypatch, tmp_path / "app")
    monkeypatch.setattr(migrations, "CHECKOUT", tmp_path / "alembic")
    with pytest.raises(MigrationsNotFound, match="no migrations"):
        migrations_dir()


def test_a_packaged_folder_without_env_py_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "app" / "migrations").mkdir(parents=True)
    _installed_at(monkeypatch, tmp_path / "app")
    with pytest.raises(MigrationsNotFound, match="no env.py readable as a file"):
        migrations_dir()
