"""`postmeter worker` stops cleanly on SIGTERM (the signal service managers send), not only on
Ctrl-C: before, SIGTERM ended it at once with no shutdown (exit -15)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.cli_process import kill_if_running, postmeter, read_until

pytestmark = pytest.mark.slow


async def test_sigterm_shuts_the_worker_down_and_exits_0(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "INSIGHTS_POLL_TICK_SECONDS": "3600",
    }
    worker = postmeter(env, "worker")
    try:
        await read_until(worker, "background.started")
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=60)
    finally:
        kill_if_running(worker)
    assert worker.returncode == 0, out.decode()[-3000:]
    assert b"background.stopping" in out
