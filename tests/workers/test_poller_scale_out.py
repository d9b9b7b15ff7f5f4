"""Two poller workers on one PostgreSQL share the queue, and the per-account limit holds
across both: never more workflows of one account at once than INSIGHTS_ACCOUNT_CONCURRENCY.

Real processes (`python workers/insights_poller.py`, scheduled ticks, as `postmeter worker`
runs them); DBOS's own records of each fetch workflow (who ran it, from when to when) are
the evidence.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from dbos import DBOSClient, WorkflowStatus
from sqlalchemy import update

from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import ScheduleExternal
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from tests.workers.real_processes import (
    WorkerProcess,
    poller_env,
    snapshot_counts,
    track_facebook_pages,
)
from workers.insights_poller import dbos_system_database_url, fetch_batch_workflow

pytestmark = pytest.mark.slow
PAGES = 2
POSTS_PER_PAGE = 400
POSTS_PER_WORKFLOW = 50  # 8 workflows per account, 16 in all
ACCOUNT_CONCURRENCY = 2  # 4 may run at once in all...
WORKER_CONCURRENCY = 3  # ...so one worker cannot take them all, and two could run 6


def max_overlap(intervals: Sequence[tuple[int, int]]) -> int:
    """Most intervals [start, end) open at one instant."""
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    )  # at equal times -1 sorts first: an end and a start at one instant do not overlap
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


async def _set_due(runtime: Runtime, when: datetime) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(update(ScheduleExternal).values(next_fetch_at=when))


def test_max_overlap() -> None:
    assert max_overlap([]) == 0
    assert max_overlap([(0, 10), (10, 20)]) == 1
    assert max_overlap([(0, 10), (5, 20), (6, 7)]) == 3


async def test_two_workers_share_the_queue_within_per_account_limits(
    runtime: Runtime, settings: Settings, sandbox_ctl: SandboxControl, sandbox_url: str
) -> None:
    if settings.is_sqlite:
        pytest.skip("scale-out is PostgreSQL's (the embedded SQLite runs one worker)")
    ctl = sandbox_ctl
    demo = (await ctl.world())["demo"]
    total = await track_facebook_pages(runtime, ctl, demo, pages=PAGES, posts=POSTS_PER_PAGE)
    # Slow batches, so workflows overlap and the limits are put to the test.
    await ctl.set_fault("*", "slow", rate=1.0, latency_ms=300, method="POST")
    run = uuid.uuid4().hex[:8]
    executors = [f"scale-a-{run}", f"scale-b-{run}"]
    common = {
        "INSIGHTS_POSTS_PER_WORKFLOW": str(POSTS_PER_WORKFLOW),
        "INSIGHTS_ACCOUNT_CONCURRENCY": str(ACCOUNT_CONCURRENCY),
        "INSIGHTS_WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "INSIGHTS_POLL_TICK_SECONDS": "1",
        "LOG_LEVEL": "INFO",  # for "insights.poller.started"
    }
    # Due only once both workers are up, or the first one up could take the whole pass.
    await _set_due(runtime, utcnow() + timedelta(days=1))
    workers = [
        WorkerProcess(poller_env(settings, sandbox_url, demo, WORKER_ID=ex, **common))
        for ex in executors
    ]
    expected = PAGES * POSTS_PER_PAGE // POSTS_PER_WORKFLOW
    flows: list[WorkflowStatus] = []
    try:
        for worker in workers:
            await worker.wait_for("insights.poller.started")
        await _set_due(runtime, utcnow())
        for _ in range(1200):
            if (await snapshot_counts(runtime))[2] >= total:
                break
            if any(w.proc.poll() is not None for w in workers):
                break
            await asyncio.sleep(0.1)
        # A batch's rows are committed a moment before DBOS records the workflow's end.
        client = DBOSClient(system_database_url=dbos_system_database_url(settings))
        try:
            for _ in range(200):
                flows = await client.list_workflows_async(
                    name=fetch_batch_workflow.__qualname__,
                    executor_id=executors,
                    load_input=False,
                    load_output=False,
                )
                if len(flows) == expected and all(f.status == "SUCCESS" for f in flows):
                    break
                await asyncio.sleep(0.1)
        finally:
            client.destroy()
    finally:
        for worker in workers:
            worker.stop()
    outputs = [w.output() for w in workers]
    assert await snapshot_counts(runtime) == (total, total, total), outputs
    assert len(flows) == expected
    assert {f.status for f in flows} == {"SUCCESS"}
    assert {f.executor_id for f in flows} == set(executors), "both workers took work"
    by_account: dict[str | None, list[tuple[int, int]]] = defaultdict(list)
    by_worker: dict[str | None, list[tuple[int, int]]] = defaultdict(list)
    for f in flows:
        assert f.dequeued_at is not None
        assert f.completed_at is not None
        by_account[f.queue_partition_key].append((f.dequeued_at, f.completed_at))
        by_worker[f.executor_id].append((f.dequeued_at, f.completed_at))
    assert len(by_account) == PAGES
    # Reached (the limit binds) and never exceeded, though the workers had room for more.
    assert [max_overlap(v) for v in by_account.values()] == [ACCOUNT_CONCURRENCY] * PAGES
    assert max(max_overlap(v) for v in by_worker.values()) <= WORKER_CONCURRENCY
