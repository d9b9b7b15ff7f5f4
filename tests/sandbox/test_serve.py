"""``serve()`` in a subprocess, over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.sandbox.client import SandboxControl
from app.sandbox.meta_auth import appsecret_proof
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


async def _until_healthy(ctl: SandboxControl, proc: subprocess.Popen[bytes]) -> None:
    """Until the sandbox process answers (it failing to start, or 15 s: raise)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            if await ctl.health():
                return
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


@pytest.mark.slow
async def test_serve_over_http(tmp_path: Path) -> None:
    port = free_port()
    state_file = tmp_path / "state.json"
    code = (
        "from app.sandbox.server import serve; "
        f"serve('127.0.0.1', {port}, seed='demo', state_file={str(state_file)!r}, quiet=True)"
    )
    command = [sys.executable, "-c", code]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        async with SandboxControl(base) as ctl:
            await _until_healthy(ctl, proc)
            demo = (await ctl.world())["demo"]
            async with httpx.AsyncClient(base_url=base) as client:
                token = demo["page_token"]
                params = {
                    "fields": "name,instagram_business_account",
                    "access_token": token,
                    "appsecret_proof": appsecret_proof(demo["meta_app_secret"], token),
                }
                r = await client.get(f"/v24.0/{demo['page_id']}", params=params)
                assert r.status_code == 200
                assert r.json()["instagram_business_account"]["id"] == demo["ig_user_id"]
                await ctl.set_fault(f"/v24.0/{demo['page_id']}", "drop", count=1)
                with pytest.raises(httpx.TransportError):
                    await client.get(f"/v24.0/{demo['page_id']}", params=params)
                r = await client.get(f"/v24.0/{demo['page_id']}", params=params)
                assert r.status_code == 200  # the next call is served again
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert state_file.exists()  # saved on shutdown
    assert b"Traceback" not in stderr, stderr.decode()


@pytest.mark.slow
async def test_ctrl_c_stops_the_sandbox_quietly(tmp_path: Path) -> None:
    """`python -m app.sandbox` (what `postmeter demo` runs) on SIGINT: shut down, state saved,
    exit 130 as for Ctrl-C, and no traceback (uvicorn re-raises the signal it handled)."""
    port = free_port()
    state_file = tmp_path / "state.json"
    command = [sys.executable, "-m", "app.sandbox", "--port", str(port), "--seed", "demo",
               "--state-file", str(state_file), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    try:
        async with SandboxControl(f"http://127.0.0.1:{port}") as ctl:
            await _until_healthy(ctl, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert b"Traceback" not in stderr, stderr.decode()
    assert proc.returncode == 130
    assert state_file.exists()  # saved on the way out
