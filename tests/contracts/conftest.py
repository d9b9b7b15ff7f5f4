"""The in-process sandbox (frozen clock, demo world) for the structural contract tests: the
same fixtures as tests/sandbox, re-exported so pytest finds them here too."""

from __future__ import annotations

from tests.sandbox.conftest import app, client, ctl, demo, graph, sandbox_state

__all__ = ["app", "client", "ctl", "demo", "graph", "sandbox_state"]
