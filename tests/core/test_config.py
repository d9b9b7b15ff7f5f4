from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import ConfigError, Settings, load_settings
from app.core.security import KEY_FILE_NAME, build_token_cipher


def test_defaults_are_embedded_sqlite() -> None:
    s = Settings(_env_file=None)
    assert s.is_sqlite
    assert str(s.async_database_url) == "sqlite+aiosqlite:///data/postmeter.sqlite"
    assert s.INSIGHTS_POLL_INTERVAL_HOURS == 6
    assert s.META_GRAPH_API_BASE == "https://graph.facebook.com"
    assert s.LINKEDIN_API_BASE == "https://api.linkedin.com"


@pytest.mark.parametrize(
    ("raw", "async_url", "sync_url"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgres://u@h:5433/db",
            "postgresql+asyncpg://u@h:5433/db",
            "postgresql+psycopg://u@h:5433/db",
        ),
        (
            "postgresql+psycopg2://u@h/db",
            "postgresql+asyncpg://u@h/db",
            "postgresql+psycopg://u@h/db",
        ),
    ],
)
def test_database_urls_as_users_write_them(raw: str, async_url: str, sync_url: str) -> None:
    s = Settings(_env_file=None, DATABASE_URL=raw)
    assert s.async_database_url.render_as_string() == async_url
    assert s.sync_database_url.render_as_string() == sync_url


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("INSIGHTS_POLL_INTERVAL_HOURS", "often"),
        ("META_GRAPH_API_VERSION", "25"),
        ("LINKEDIN_API_VERSION", "2026-10"),
        ("FEATURE_FAKE_INSIGHTS", "maybe"),
        ("META_GRAPH_API_BASE", "graph.facebook.com"),
    ],
)
def test_malformed_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert name in message


def test_cli_prints_one_line_on_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTS_POLL_INTERVAL_HOURS", "-3")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "INSIGHTS_POLL_INTERVAL_HOURS" in str(result.exception)


def test_embedded_key_generated_once_with_mode_600(tmp_path: Path) -> None:
    s = Settings(_env_file=None, DATA_DIR=tmp_path)
    first = build_token_cipher(s)
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = build_token_cipher(s)
    assert second.decrypt(first.encrypt("x")) == "x"


def test_postgres_requires_keys(tmp_path: Path) -> None:
    s = Settings(_env_file=None, DATA_DIR=tmp_path, DATABASE_URL="postgresql://u@h/db")
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEYS"):
        build_token_cipher(s)
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_malformed_key_names_setting() -> None:
    s = Settings(_env_file=None, TOKEN_ENCRYPTION_KEYS="not-a-key")
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEYS") as info:
        build_token_cipher(s)
    assert "not-a-key" not in str(info.value)


def test_env_sample_documents_every_setting() -> None:
    sample = (Path(__file__).parents[2] / "env.sample").read_text()
    for name in Settings.model_fields:
        assert f"{name}=" in sample, name
