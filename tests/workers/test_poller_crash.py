"""`kill -9` the poller mid-pass, start it again: the pass completes, nothing lost or doubled.

Real processes: the sandbox and the poller each run as a subprocess, as in production.
"""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from app.core.config import Settings
from app.core.runtime import Runtime
from app.sandbox.client import SandboxControl
from tests.workers.real_processes import (
    poller_env,
    snapshot_counts,
    start_poller_process,
    track_facebook_pages,
)

pytestmark = pytest.mark.slow
PAGES = 4
POSTS_PER_PAGE = 400  # 32 batches of 50


async def test_kill_9_mid_pass_then_restart_completes(
    runtime: Runtime, settings: Settings, sandbox_ctl: SandboxControl, sandbox_url: str
) -> None:
    ctl = sandbox_ctl
    demo = (await ctl.world())["demo"]
    total = await track_facebook_pages(runtime, ctl, demo, pages=PAGES, posts=POSTS_PER_PAGE)
    # Slow batches, so the kill lands in the middle of the pass.
    await ctl.set_fault("*", "slow", rate=1.0, latency_ms=400, method="POST")
    env = poller_env(
        settings,
        sandbox_url,
        demo,
        WORKER_ID=f"crash-{uuid.uuid4().hex[:8]}",
        INSIGHTS_WORKER_CONCURRENCY="2",
        INSIGHTS_ACCOUNT_CONCURRENCY="1",
    )
    first = start_poller_process(env, "--once")
    try:
        for _ in range(600):
            rows, _, _ = await snapshot_counts(runtime)
            if rows >= 100:
                break
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    rows_at_kill, _, _ = await snapshot_counts(runtime)
    assert 0 < rows_at_kill < total, "the kill must land mid-pass"

    await ctl.clear_faults()
    second = start_poller_process(env, "--once")
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out.decode()[-2000:]
    rows, distinct, fetched = await snapshot_counts(runtime)
    assert (rows, distinct, fetched) == (total, total, total), out.decode()[-2000:]
    # And the restart's summary accounts for the rest of the pass.
    assert b"insights poll pass" in out
