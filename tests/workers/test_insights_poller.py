"""The DBOS poller: a pass claims what is due, fetches every batch once, and stops."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dbos import DBOS
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


async def test_pending_batches_survive_recovery_moving_them(monkeypatch: Any) -> None:
    """DBOS's startup recovery puts a killed worker's PENDING batch back on its queue
    (ENQUEUED) from a background thread while the pass asks what is unfinished: whenever
    the move lands, the batch is still waited for. Batches another live worker runs are not."""
    fetch = insights_poller.fetch_batch_workflow.__qualname__
    rows = {
        "moving": SimpleNamespace(workflow_id="moving", status="PENDING", executor_id="me"),
        "queued": SimpleNamespace(workflow_id="queued", status="ENQUEUED", executor_id=None),
        "theirs": SimpleNamespace(workflow_id="theirs", status="PENDING", executor_id="other"),
    }

    async def list_workflows(**query: Any) -> list[SimpleNamespace]:
        statuses = query["status"] if isinstance(query["status"], list) else [query["status"]]
        names = query["name"] if isinstance(query["name"], list) else [query["name"]]
        wanted = query.get("executor_id")
        answer = [
            r
            for r in rows.values()
            if r.status in statuses and fetch in names and wanted in (None, r.executor_id)
        ]
        if fetch in names:  # recovery moves the batch right after this query
            rows["moving"].status, rows["moving"].executor_id = "ENQUEUED", None
        return answer

    monkeypatch.setattr(insights_poller, "_context", SimpleNamespace(executor_id="me"))
    monkeypatch.setattr(DBOS, "list_workflows_async", list_workflows)
    assert sorted(await insights_poller._pending_fetch_ids()) == ["moving", "queued"]
