"""Imports go one way: the contracts in pyproject.toml's [tool.importlinter] (layers with the
CLI on top and core at the bottom, workers never importing the CLI, integrations depending
only on core, the sandbox and the product apart), checked by import-linter."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    cli = pytest.importorskip("importlinter.cli", reason="import-linter (dev extra) missing")
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
