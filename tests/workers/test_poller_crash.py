"""`kill -9` the poller mid-pass, start it again: the pass completes, nothing lost or doubled.

Real processes: the sandbox and the poller each run as a subprocess, as in production.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import PostMetrics, Provider, ScheduleExternal
from app.sandbox.client import SandboxControl
from tests.conftest import TEST_KEY
from tests.factories import make_account, track_posts

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PAGES = 4
POSTS_PER_PAGE = 400  # 32 batches of 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.sandbox", "--port", str(port), "--seed", "demo", "--quiet"],
        cwd=ROOT,
    )
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
async def ctl(sandbox_url: str) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(sandbox_url) as control:
        for _ in range(100):
            try:
                if await control.health():
                    break
            except Exception:  # noqa: BLE001, S110 - not up yet
                pass
            await asyncio.sleep(0.1)
        yield control


def _poller(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "workers/insights_poller.py", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def _counts(runtime: Runtime) -> tuple[int, int, int]:
    async with runtime.sessionmaker() as s:
        rows = int(await s.scalar(select(func.count()).select_from(PostMetrics)) or 0)
        keys = select(PostMetrics.schedule_id, PostMetrics.provider).distinct().subquery()
        distinct = int(await s.scalar(select(func.count()).select_from(keys)) or 0)
        fetched = int(
            await s.scalar(
                select(func.count()).where(ScheduleExternal.last_fetched_at.is_not(None))
            )
            or 0
        )
    return rows, distinct, fetched


async def test_kill_9_mid_pass_then_restart_completes(
    runtime: Runtime, settings: Settings, ctl: SandboxControl, sandbox_url: str
) -> None:
    demo = (await ctl.world())["demo"]
    workspace = None
    for i in range(PAGES):
        page = await ctl.create_page(name=f"crash page {i}", app_id=demo["meta_app_id"])
        ids = await ctl.seed_posts("facebook", page["id"], POSTS_PER_PAGE, age_hours=(1, 100))
        workspace, account = await make_account(
            runtime,
            workspace_id=workspace,
            provider=Provider.FACEBOOK,
            external_id=page["id"],
            token=page["access_token"],
        )
        await track_posts(
            runtime,
            workspace_id=workspace,
            account_id=account,
            provider=Provider.FACEBOOK,
            external_ids=ids,
        )
    total = PAGES * POSTS_PER_PAGE
    # Slow batches, so the kill lands in the middle of the pass.
    await ctl.set_fault("*", "slow", rate=1.0, latency_ms=400, method="POST")
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.DATA_DIR),
        "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "META_GRAPH_API_BASE": sandbox_url,
        "LINKEDIN_API_BASE": sandbox_url,
        "META_APP_SECRET": demo["meta_app_secret"],
        "WORKER_ID": f"crash-{uuid.uuid4().hex[:8]}",
        "INSIGHTS_WORKER_CONCURRENCY": "2",
        "INSIGHTS_ACCOUNT_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    first = _poller(env)
    try:
        for _ in range(600):
            rows, _, _ = await _counts(runtime)
            if rows >= 100:
                break
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    rows_at_kill, _, _ = await _counts(runtime)
    assert 0 < rows_at_kill < total, "the kill must land mid-pass"

    await ctl.clear_faults()
    second = _poller(env)
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out.decode()[-2000:]
    rows, distinct, fetched = await _counts(runtime)
    assert (rows, distinct, fetched) == (total, total, total), out.decode()[-2000:]
    # And the restart's summary accounts for the rest of the pass.
    assert b"insights poll pass" in out
