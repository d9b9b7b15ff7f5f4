"""The DBOS poller: a pass claims what is due, fetches every batch once, and stops."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.runtime import Runtime
from app.models import ScheduleExternal
from app.sandbox.client import SandboxControl
from tests.conftest import make_settings
from tests.sandbox_harness import build_world
from tests.workers.real_processes import snapshot_counts
from workers import dbos_runtime, insights_poller


async def test_one_pass_fetches_every_due_post_once(
    runtime: Runtime,
    poller: insights_poller.PollerContext,
    ctl: SandboxControl,
    demo: dict[str, Any],
) -> None:
    await build_world(runtime, ctl, demo, {"fb": 130, "li_org": 70, "ig": 20})
    summary = await insights_poller.run_once()
    assert summary.posts == 220
    assert summary.fetched == 220, summary.errors
    assert summary.batches == 3  # one workflow per account (<= INSIGHTS_POSTS_PER_WORKFLOW)
    assert await snapshot_counts(runtime) == (220, 220, 220)
    async with runtime.sessionmaker() as s:
        next_times = list(await s.scalars(select(ScheduleExternal.next_fetch_at)))
    assert all(t is not None for t in next_times)
    # Nothing is due any more: a second pass fetches nothing.
    again = await insights_poller.run_once()
    assert again.posts == 0
    assert await snapshot_counts(runtime) == (220, 220, 220)


def test_executor_id_is_stable_and_apart_per_role(tmp_path: Path) -> None:
    sqlite = make_settings(tmp_path, f"sqlite:///{tmp_path / 'pm.sqlite'}")
    pg = make_settings(tmp_path, "postgresql://u@db/pm")
    assert dbos_runtime.executor_id(sqlite, "serve") == "local-serve"
    assert dbos_runtime.executor_id(sqlite, "poll") == "local-poll"
    assert dbos_runtime.executor_id(pg, "worker") == f"{socket.gethostname()}-worker"
    named = make_settings(tmp_path, "postgresql://u@db/pm", WORKER_ID="w-7")
    assert dbos_runtime.executor_id(named, "worker") == "w-7"


def test_tick_cron() -> None:
    assert dbos_runtime.tick_cron(60) == "0 */1 * * * *"
    assert dbos_runtime.tick_cron(15) == "*/15 * * * * *"
    assert dbos_runtime.tick_cron(7) == "*/6 * * * * *"
    assert dbos_runtime.tick_cron(3600) == "0 0 * * * *"
