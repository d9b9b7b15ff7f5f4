"""Real processes for poller tests: the sandbox and poller workers as subprocesses, as in
production (the in-process fixtures cannot show a `kill -9` or two workers sharing a queue)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import PostMetrics, Provider, ScheduleExternal
from app.sandbox.client import SandboxControl
from tests.conftest import TEST_KEY, free_port
from tests.factories import make_account, track_posts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.sandbox", "--port", str(port), "--seed", "demo", "--quiet"],
        cwd=ROOT,
    )
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
async def sandbox_ctl(sandbox_url: str) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(sandbox_url) as control:
        for _ in range(100):
            try:
                if await control.health():
                    break
            except Exception:  # noqa: BLE001, S110 - not up yet
                pass
            await asyncio.sleep(0.1)
        yield control


async def track_facebook_pages(
    runtime: Runtime, ctl: SandboxControl, demo: dict[str, Any], *, pages: int, posts: int
) -> int:
    """`pages` sandbox pages with `posts` posts each, all tracked and due now."""
    workspace = None
    for i in range(pages):
        page = await ctl.create_page(name=f"worker test page {i}", app_id=demo["meta_app_id"])
        ids = await ctl.seed_posts("facebook", page["id"], posts, age_hours=(1, 100))
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
    return pages * posts


def poller_env(
    settings: Settings, sandbox_url: str, demo: dict[str, Any], **overrides: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.DATA_DIR),
        "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "META_GRAPH_API_BASE": sandbox_url,
        "LINKEDIN_API_BASE": sandbox_url,
        "META_APP_SECRET": demo["meta_app_secret"],
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def start_poller_process(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`python workers/insights_poller.py [args]`, output captured."""
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "workers/insights_poller.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


class WorkerProcess:
    """A poller subprocess whose output a thread drains (an unread pipe fills and blocks it)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = start_poller_process(env, *args)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace"))

    async def wait_for(self, text: str, timeout: float = 60.0) -> None:
        """Until a line of its output contains `text` (fails if it exits or times out)."""
        for _ in range(int(timeout / 0.05)):
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {text!r} from the worker:\n{self.output()}")

    def stop(self) -> None:
        """Ctrl-C, then kill if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)

    def output(self) -> str:
        return "".join(self.lines)[-2000:]


async def snapshot_counts(runtime: Runtime) -> tuple[int, int, int]:
    """Snapshot rows, distinct (schedule, provider) keys, posts with a successful fetch."""
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
