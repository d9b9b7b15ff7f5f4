"""DBOS knows a step or workflow by its bare function name, not by its module: two modules
defining `claim_step` (the engine and the insights poller once did) share one registration,
and a recovered workflow may replay the other module's function. Every name must be unique
across every module that registers DBOS functions."""

from __future__ import annotations

import importlib
from collections import defaultdict
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workers")


def _dbos_modules() -> list[ModuleType]:
    """Every module of ours whose source registers a DBOS function (found by its decorator,
    so a new module is checked without being listed here)."""
    names = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "@DBOS." in path.read_text(encoding="utf-8")
    )
    return [importlib.import_module(name) for name in names]


def _registered(module: ModuleType) -> dict[str, str]:
    """DBOS name -> the attribute defining it, for the functions `module` itself defines."""
    return {
        obj.dbos_function_name: f"{module.__name__}.{attr}"
        for attr, obj in vars(module).items()
        if hasattr(obj, "dbos_function_name") and obj.__module__ == module.__name__
    }


def test_engine_and_poller_are_among_the_checked_modules() -> None:
    checked = {m.__name__ for m in _dbos_modules()}
    assert {"app.scheduler.engine", "workers.insights_poller"} <= checked


def test_dbos_function_names_are_unique_across_modules() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for module in _dbos_modules():
        registered = _registered(module)
        assert registered, f"{module.__name__} has @DBOS. in its source but registers nothing"
        for name, where in registered.items():
            owners[name].append(where)
    clashes = {name: where for name, where in owners.items() if len(where) > 1}
    assert not clashes, f"DBOS function names registered twice: {clashes}"
    assert {"claim_step", "publish_claim_step", "publish_workflow"} <= set(owners)
