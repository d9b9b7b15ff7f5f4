"""One live process per worker id (issue 10, finding 6): a second process under an id a live
process holds stops before DBOS launches, and the first one's in-flight workflows stay its own;
a holder killed with `kill -9` does not block a restart; `postmeter serve` binds its port
before any background work, so a second one on a taken port touches nothing.

The first process is this test process (DBOS in-process, holding a workflow in flight under
the id); the second is a real `postmeter worker` / `postmeter serve`. Without the claim, the
second one's DBOS launch re-enqueues the first one's PENDING workflow for recovery ("no longer
owned by this execution" in the first).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from dbos import DBOS, SetWorkflowID, WorkflowHandleAsync
from sqlalchemy import text

from app.core.config import ConfigError, Settings
from app.core.runtime import Runtime, build_runtime
from app.sandbox.ports import bind_socket
from tests.cli_process import ROOT, postmeter, read_until
from tests.conftest import TEST_KEY, free_port, make_settings
from workers import background, worker_claim
from workers.worker_claim import (
    WorkerIdInUse,
    _refusal,
    advisory_key,
    claim_worker_id,
    lock_file_path,
    release_worker_claim,
)

TOPIC = "release"


@DBOS.workflow()
async def worker_claim_test_held_workflow() -> str:
    """In flight (PENDING) until the test sends it a message."""
    got = await DBOS.recv_async(TOPIC, timeout_seconds=120)
    return f"released:{got}"


def _env(settings: Settings, worker_id: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.DATA_DIR),
        "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "WORKER_ID": worker_id,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "INSIGHTS_POLL_TICK_SECONDS": "3600",
        "PUBLISH_TICK_SECONDS": "60",
    }


async def _finish(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> tuple[int, str]:
    """Its exit code and output; a process still running after `timeout` is stopped and the
    test fails (a refused process must exit by itself)."""
    try:
        out, _ = await asyncio.to_thread(proc.communicate, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
        raise AssertionError(f"still running after {timeout}s:\n{out.decode()[-3000:]}") from None
    return proc.returncode, out.decode(errors="replace")


@pytest.fixture
def worker_id() -> str:
    return f"claim-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def holder(
    database_url: str, tmp_path: Path, worker_id: str
) -> AsyncIterator[tuple[Runtime, str]]:
    """DBOS in this process under `worker_id`, with one workflow in flight: (runtime, its id)."""
    settings = make_settings(tmp_path, database_url, WORKER_ID=worker_id)
    runtime = build_runtime(settings)
    await background.start_background(
        runtime, role="serve", schedule=False, poller=False, publishing=False
    )
    wf_id = f"held:{uuid.uuid4()}"
    with SetWorkflowID(wf_id):
        await DBOS.start_workflow_async(worker_claim_test_held_workflow)
    for _ in range(100):  # until it waits in recv (PENDING, under our executor id)
        status = await DBOS.get_workflow_status_async(wf_id)
        if status is not None and status.status == "PENDING":
            break
        await asyncio.sleep(0.05)
    try:
        yield runtime, wf_id
    finally:
        await background.stop_background()
        await runtime.aclose()


async def _assert_still_ours(wf_id: str, worker_id: str) -> None:
    """The workflow is still in flight here, never re-enqueued for recovery, and finishes in
    this process with this execution's result."""
    status = await DBOS.get_workflow_status_async(wf_id)
    assert status is not None
    assert status.status == "PENDING", status.status
    assert status.executor_id == worker_id
    assert status.recovery_attempts in (None, 0, 1), status.recovery_attempts
    before = status.recovery_attempts
    await DBOS.send_async(wf_id, "go", TOPIC)
    handle: WorkflowHandleAsync[str] = await DBOS.retrieve_workflow_async(wf_id)
    assert await handle.get_result(polling_interval_sec=0.1) == "released:go"
    after = await DBOS.get_workflow_status_async(wf_id)
    assert after is not None
    assert after.recovery_attempts == before


@pytest.mark.slow
async def test_second_process_with_the_same_worker_id_refuses_and_leaves_the_first_alone(
    holder: tuple[Runtime, str], worker_id: str
) -> None:
    runtime, wf_id = holder
    rc, out = await _finish(postmeter(_env(runtime.settings, worker_id), "worker"))
    assert rc == 2, out
    assert f"worker id '{worker_id}' is in use by another running process" in out
    assert f"pid {os.getpid()}" in out  # names the holder
    assert "background.started" not in out
    await _assert_still_ours(wf_id, worker_id)


@pytest.mark.slow
async def test_second_serve_on_a_taken_port_exits_before_any_background_work(
    holder: tuple[Runtime, str], worker_id: str
) -> None:
    """The first `serve` holds the port and the worker id; the second, same id, same port,
    fails on the port before it claims the id or launches DBOS."""
    runtime, wf_id = holder
    port = free_port()
    with bind_socket("127.0.0.1", port):
        proc = postmeter(_env(runtime.settings, worker_id), "serve", "--port", str(port))
        rc, out = await _finish(proc)
    assert rc == 1, out
    assert f"cannot listen on 127.0.0.1:{port}: already in use" in out
    assert "background.started" not in out
    assert "worker.id_claimed" not in out  # stopped before the claim, let alone DBOS
    await _assert_still_ours(wf_id, worker_id)


@pytest.mark.slow
async def test_a_holder_killed_with_sigkill_does_not_block_a_restart(
    database_url: str, tmp_path: Path, worker_id: str
) -> None:
    env = _env(make_settings(tmp_path, database_url), worker_id)
    first = postmeter(env, "worker")
    try:
        await read_until(first, "background.started")
    finally:
        first.kill()  # SIGKILL: no clean-up of any kind
        first.wait(timeout=10)
    second = postmeter(env, "worker")
    try:
        await read_until(second, "background.started")
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)


# --- the claim itself, in this process ----------------------------------------------------


async def test_claim_is_kept_by_its_process_and_refused_to_another(
    database_url: str, tmp_path: Path, worker_id: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    first = claim_worker_id(settings, worker_id)
    try:
        assert claim_worker_id(settings, worker_id) is first  # launching again: kept
        # Another process (a plain interpreter claiming the same id) is refused.
        code = (
            "import sys\nfrom workers.worker_claim import claim_worker_id, WorkerIdInUse\n"
            "from app.core.config import Settings\n"
            f"s = Settings(_env_file=None, DATA_DIR={str(tmp_path)!r}, "
            f"DATABASE_URL={settings.database_url.render_as_string(hide_password=False)!r})\n"
            f"try:\n    claim_worker_id(s, {worker_id!r})\nexcept WorkerIdInUse as e:\n"
            "    print(e)\n    sys.exit(3)\n"
        )
        proc = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "is in use by another running process" in proc.stdout
    finally:
        release_worker_claim()
    again = claim_worker_id(settings, worker_id)  # released: free again
    release_worker_claim()
    assert again is not first


def test_worker_id_in_use_is_a_configuration_error_naming_the_fix() -> None:
    """A ConfigError: every entry point prints it as one line and exits 2."""
    assert issubclass(WorkerIdInUse, ConfigError)
    message = str(_refusal("w1", "postmeter w1 pid 7 on h"))
    assert "WORKER_ID" in message
    assert "pid 7" in message


def test_advisory_key_is_stable_signed_64_bit_and_distinct() -> None:
    keys = {advisory_key(f"w{i}") for i in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key("w1") == advisory_key("w1")


def test_sqlite_lock_file_lives_in_data_dir_and_is_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'x.sqlite'}")
    claim_worker_id(settings, "local-serve")
    try:
        path = lock_file_path(settings, "local-serve")
        assert path.parent == tmp_path / "data"
        assert path.stat().st_mode & 0o777 == 0o600
        assert "pid" in path.read_text()
    finally:
        release_worker_claim()


# --- PostgreSQL: a claim whose connection is lost -----------------------------------------


def _pg_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the advisory lock's connection is PostgreSQL's")


async def _terminate_claim_session(runtime: Runtime, executor: str) -> None:
    """End the claim's server session, as a server restart or a network cut would."""
    async with runtime.engine.begin() as conn:
        ended = await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE :name AND pid <> pg_backend_pid()"
            ),
            {"name": f"postmeter {executor} pid %"},
        )
        assert ended.all() == [(True,)]


async def _wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not in time")


async def test_a_lost_claim_connection_is_claimed_again(
    database_url: str, tmp_path: Path, worker_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(database_url)
    monkeypatch.setattr(worker_claim, "WATCH_SECONDS", 0.1)
    settings = make_settings(tmp_path, database_url)
    runtime = build_runtime(settings)
    stopped: list[bool] = []
    monkeypatch.setattr(worker_claim, "_stop_this_process", lambda: stopped.append(True))
    claim_worker_id(settings, worker_id)
    try:
        await _terminate_claim_session(runtime, worker_id)
        # Claimed again on a new session: another process is refused once more.
        async with runtime.engine.connect() as conn:

            async def taken() -> bool:
                row = await conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(worker_id)}
                )
                got = bool(row.scalar())
                if got:
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(worker_id)}
                    )
                return not got

            for _ in range(100):
                await asyncio.sleep(0.05)
                if await taken():
                    break
            assert await taken()
        assert stopped == []
    finally:
        release_worker_claim()
        await runtime.aclose()


async def test_a_lost_claim_taken_by_another_process_stops_this_one(
    database_url: str, tmp_path: Path, worker_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(database_url)
    monkeypatch.setattr(worker_claim, "WATCH_SECONDS", 1.0)
    settings = make_settings(tmp_path, database_url)
    runtime = build_runtime(settings)
    stopped: list[bool] = []
    monkeypatch.setattr(worker_claim, "_stop_this_process", lambda: stopped.append(True))
    claim_worker_id(settings, worker_id)
    try:
        async with runtime.engine.connect() as other:
            await _terminate_claim_session(runtime, worker_id)
            # Another process takes the id before the watch looks again.
            row = await other.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(worker_id)}
            )
            assert row.scalar() is True
            await _wait_until(lambda: stopped == [True], timeout=10)
            await other.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(worker_id)}
            )
    finally:
        release_worker_claim()
        await runtime.aclose()
