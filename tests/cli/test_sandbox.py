"""`postmeter sandbox` as a user runs it: a taken port, `--print-env`, `--connect`, then a poll
pass with the printed settings (real processes: the sandbox, the CLI, the poller)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.runtime import build_runtime
from app.models import PostMetrics, ScheduleExternal
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _user_env(tmp_path: Path) -> dict[str, str]:
    """A shell with no Postmeter settings but its own data folder."""
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return {**env, "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _field(output: str, name: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(name)
    )


@pytest.mark.parametrize(
    "command",
    [["-m", "app.cli", "sandbox", "--seed", "demo"], ["-m", "app.sandbox", "--seed", "demo"]],
    ids=["postmeter sandbox", "python -m app.sandbox"],
)
def test_taken_port_fails_with_one_line_and_no_banner(tmp_path: Path, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run([*command, "--port", str(port)], _user_env(tmp_path), tmp_path, timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""  # no banner, so no token printed for a server that never ran
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: already in use"
    ]


@pytest.mark.parametrize(("option", "what"), [("--sandbox-port", "sandbox"), ("--port", "API")])
def test_demo_with_a_taken_port_fails_before_printing_a_key(
    tmp_path: Path, option: str, what: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": str(free_port()), "--sandbox-port": str(free_port()), option: str(port)}
        args = ["-m", "app.cli", "demo", *(x for kv in ports.items() for x in kv)]
        result = _run(args, _user_env(tmp_path), tmp_path, timeout=60)
    assert result.returncode == 1
    assert "pm_" not in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"error: {what} port: cannot listen on 127.0.0.1:{port}: already in use"
    )
    assert not (tmp_path / "data" / "demo" / "postmeter.sqlite").exists()  # nothing started


@pytest.fixture
def sandbox_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.cli", "sandbox", "--seed", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=_user_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    banner = [proc.stdout.readline() for _ in range(3)]  # printed once the port is bound
    assert banner[0].strip() == f"Postmeter platform sandbox on http://127.0.0.1:{port}"
    yield port
    proc.terminate()
    proc.wait(timeout=10)


async def test_print_env_and_connect_make_a_working_setup(
    tmp_path: Path, sandbox_port: int
) -> None:
    user = _user_env(tmp_path)
    base = f"http://127.0.0.1:{sandbox_port}"
    world = httpx.get(f"{base}/_sandbox/world", timeout=10).json()

    printed = _run(
        ["-m", "app.cli", "sandbox", "--port", str(sandbox_port), "--print-env"], user, tmp_path
    )
    assert printed.returncode == 0, printed.stderr
    sandbox_env = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in printed.stdout.splitlines()
    )
    assert sandbox_env["META_GRAPH_API_BASE"] == sandbox_env["LINKEDIN_API_BASE"] == base
    assert sandbox_env["META_APP_SECRET"] == world["demo"]["meta_app_secret"]

    created = _run(["-m", "app.cli", "workspace", "create", "Acme"], user, tmp_path)
    assert created.returncode == 0, created.stderr
    workspace = _field(created.stdout, "workspace_id")

    connect = ["-m", "app.cli", "sandbox", "--port", str(sandbox_port), "--connect", workspace]
    # The trap: base URLs set, the app secret forgotten (every Graph call would fail).
    no_secret = {k: v for k, v in sandbox_env.items() if k != "META_APP_SECRET"}
    first = _run(connect, {**user, **no_secret}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "tracking 40 posts" in first.stdout
    assert "(META_APP_SECRET)" in first.stderr
    assert "--print-env" in first.stderr
    again = _run(connect, {**user, **sandbox_env}, tmp_path)  # idempotent, and no warning now
    assert again.returncode == 0, again.stderr
    assert "tracking 40 posts" in again.stdout
    assert again.stderr == ""
    missing = connect[:-1] + ["01a20b69-38bc-7e0b-ad4d-80f306a8d4b0"]
    unknown = _run(missing, user, tmp_path)
    assert unknown.returncode == 1
    assert "workspace 01a20b69-38bc-7e0b-ad4d-80f306a8d4b0 not found" in unknown.stderr

    polled = _run(["-m", "app.cli", "poll", "--once"], {**user, **sandbox_env}, tmp_path, 180)
    assert polled.returncode == 0, polled.stderr

    runtime = build_runtime(Settings(_env_file=None, DATA_DIR=tmp_path / "data"))
    try:
        async with runtime.sessionmaker() as session:
            posts = (await session.scalars(select(ScheduleExternal))).all()
            snapshots = await session.scalar(select(func.count()).select_from(PostMetrics))
    finally:
        await runtime.aclose()
    assert len(posts) == 40
    assert [p.external_id for p in posts if p.last_fetched_at is None] == []
    assert [p.last_error for p in posts if p.last_error] == []
    assert snapshots == 40
