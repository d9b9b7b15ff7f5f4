"""`postmeter serve` on SQLite runs its background work in a child process (issue 10: the API
under load): off the API's event loop, at a lower CPU priority, restarted when it dies, and
gone when the server is."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.cli_process import kill_if_running, postmeter, read_until
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "INSIGHTS_POLL_TICK_SECONDS": "3600",
        **overrides,
    }


def _stat(pid: int) -> list[str]:
    # Fields after the command name (which may hold spaces): state is [0], ppid [1], nice [16].
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def _worker_pid(output: str) -> int:
    pids = [
        int(entry["pid"])
        for line in output.splitlines()
        if line.startswith("{")
        and (entry := json.loads(line)).get("event") == "background.worker_process"
    ]
    assert pids, output[-3000:]
    return pids[-1]


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False


async def test_background_work_runs_in_a_child_that_follows_the_server(tmp_path: Path) -> None:
    env = _env(tmp_path, SERVE_WORKER_NICE="7")
    server = postmeter(env, "serve", "--port", str(free_port()))
    worker = 0
    try:
        out = await read_until(server, "Application startup complete")
        # The worker started (and claimed the worker id) before the server served.
        assert out.index("background.started") < out.index("Application startup complete")
        worker = _worker_pid(out)
        assert worker != server.pid
        assert int(_stat(worker)[1]) == server.pid
        assert int(_stat(worker)[16]) == 7  # SERVE_WORKER_NICE
        assert int(_stat(server.pid)[16]) == 0
        # A worker that dies is started again, under the same worker id.
        os.kill(worker, signal.SIGKILL)
        out = await read_until(server, "background.worker_process")
        assert "background.worker_exited" in out
        restarted = _worker_pid(out)
        assert restarted != worker
        worker = restarted
    finally:
        server.kill()  # SIGKILL: the server cannot stop its worker...
        server.communicate(timeout=30)
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:  # ...which stops on its own
        await asyncio.sleep(0.1)
    assert not _alive(worker)


async def test_serve_stops_its_worker_when_it_stops(tmp_path: Path) -> None:
    env = _env(tmp_path)
    server = postmeter(env, "serve", "--port", str(free_port()))
    try:
        worker = _worker_pid(await read_until(server, "Application startup complete"))
        server.send_signal(signal.SIGINT)  # to the server alone, not its process group
        out, _ = server.communicate(timeout=60)
    finally:
        kill_if_running(server)
    # uvicorn re-raises the SIGINT it handled once it has shut down: 130, as for Ctrl-C.
    assert server.returncode in (0, 130), out.decode()[-3000:]
    assert b"Finished server process" in out
    assert not _alive(worker)


async def test_serve_with_several_api_processes(tmp_path: Path) -> None:
    """`--workers 2`: two API processes on the one port, the background worker beside them
    (one, not one per API process), all gone after the server stops."""
    env = _env(tmp_path)
    port = free_port()
    server = postmeter(env, "serve", "--port", str(port), "--workers", "2")
    try:
        out = await read_until(server, "Application startup complete")
        out += await read_until(server, "Application startup complete")
        assert out.count("background.started") == 1
        worker = _worker_pid(out)
        api = [
            int(entry["event"].split("[")[1].rstrip("]"))
            for line in out.splitlines()
            if line.startswith("{")
            and (entry := json.loads(line))["event"].startswith("Started server process")
        ]
        assert len(set(api)) == 2
        assert worker not in api
        assert all(int(_stat(pid)[1]) == server.pid for pid in [*api, worker])

        def ready() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return sock.recv(4096)

        for _ in range(4):
            assert (await asyncio.to_thread(ready)).startswith(b"HTTP/1.1 200")
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=60)
        assert b"GET /readyz" not in rest  # no access log, as with one process
    finally:
        kill_if_running(server)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in [*api, worker]) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not any(_alive(pid) for pid in [*api, worker])


async def test_a_worker_stopped_on_request_is_not_restarted(tmp_path: Path) -> None:
    """Ctrl-C, or systemd's SIGTERM to the whole group, reaches the worker before the server
    stops it: it exits 0, and the server must not start another one while it shuts down."""
    server = postmeter(_env(tmp_path), "serve", "--port", str(free_port()))
    try:
        worker = _worker_pid(await read_until(server, "Application startup complete"))
        os.kill(worker, signal.SIGTERM)
        out = await read_until(server, "background.worker_stopped")
        assert "background.worker_exited" not in out
        await asyncio.sleep(3)  # past the first restart delay (1 s)
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=60)
    finally:
        kill_if_running(server)
    assert b"background.worker_process" not in rest  # no second worker
    assert not _alive(worker)
