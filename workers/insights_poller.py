"""The background insights poller, on DBOS durable workflows.

A scheduled workflow (once per tick across all workers) claims the posts that are due and
enqueues one fetch workflow per (account, batch) on a queue partitioned by account, so the
per-account concurrency limit holds across any number of workers. Each batch's workflow id is
derived from its account, due time and posts, so it is never fetched twice for one due time;
a worker killed mid-pass resumes its workflows on restart, and snapshot upserts make a
re-executed fetch harmless.

Run it with `python workers/insights_poller.py` (`--once` for one pass), `postmeter poll`,
`postmeter worker`, or under `postmeter serve` on SQLite (in the worker process it starts).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from dbos import (
    DBOS,
    Queue,
    ScheduleInput,
    SetEnqueueOptions,
    SetWorkflowID,
    WorkflowHandleAsync,
)

from app.core.config import ConfigError, Settings, load_settings
from app.core.files import use_private_umask
from app.core.runtime import Runtime, build_runtime, tune_gc_for_service
from app.models.base import utcnow
from app.services.insights_refresh import InsightsRefresher, open_refresher
from app.services.poll_planner import PlannedBatch, claim_due_batches, count_due, parse_ids
from app.services.startup import command_runtime
from workers.dbos_adapter import wait_for_queue_worker
from workers.dbos_runtime import dbos_system_database_url as dbos_system_database_url
from workers.dbos_runtime import destroy_dbos, executor_id, launch_dbos, tick_cron
from workers.worker_claim import claim_worker_id, release_worker_claim

log = structlog.get_logger(__name__)

QUEUE_NAME = "insights-fetch"
SCHEDULE_NAME = "insights-poll-tick"
# Posts claimed per pass; a larger backlog is taken by the next passes (bounded step output).
CLAIM_LIMIT = 10_000
RESULT_POLL_SECONDS = 0.1


@dataclass
class PollerContext:
    runtime: Runtime
    refresher: InsightsRefresher
    # The id DBOS was launched with (`executor_id`): whose interrupted workflows are ours.
    executor_id: str
    queue: Queue | None = None
    owns_runtime: bool = False


_context: PollerContext | None = None


def _ctx() -> PollerContext:
    if _context is None:
        raise RuntimeError("the insights poller is not started in this process")
    return _context


# --- workflows -----------------------------------------------------------------------------


@DBOS.step()
async def claim_step(now_iso: str) -> list[dict[str, Any]]:
    """Claim due posts and cut them into batches (recorded: replays return the same batches)."""
    ctx = _ctx()
    now = datetime.fromisoformat(now_iso)
    # Posts an earlier batch could neither store nor put back (the database refused both):
    # released first, so this very claim takes them again.
    await ctx.refresher.release_unreleased(now)
    async with ctx.runtime.sessionmaker() as session, session.begin():
        batches = await claim_due_batches(
            session,
            now=now,
            batch_size=ctx.runtime.settings.INSIGHTS_POSTS_PER_WORKFLOW,
            limit=CLAIM_LIMIT,
        )
    return [asdict(b) for b in batches]


@DBOS.step()
async def refresh_step(row_ids: list[str], lease_until: str) -> dict[str, Any]:
    """Fetch, map, upsert and recompute one batch (idempotent if re-executed).

    Posts whose claim no longer holds (fetched meanwhile, or re-claimed after the lease ran
    out) are left alone, so a late batch never fetches them twice.
    """
    report = await _ctx().refresher.refresh(
        parse_ids(row_ids), claimed_until=datetime.fromisoformat(lease_until)
    )
    return {
        "posts": len(row_ids),
        "fetched": report.count("fetched"),
        "errors": report.error_counts(),
    }


@DBOS.workflow()
async def fetch_batch_workflow(
    account_id: str, row_ids: list[str], lease_until: str
) -> dict[str, Any]:
    log.debug("insights.batch.start", account_id=account_id, posts=len(row_ids))
    return await refresh_step(row_ids, lease_until)


@DBOS.workflow()
async def poll_pass_workflow(now_iso: str) -> dict[str, Any]:
    """One pass: claim what is due and enqueue its batches; returns their workflow ids."""
    batches = [PlannedBatch(**b) for b in await claim_step(now_iso)]
    queue = _ctx().queue
    assert queue is not None
    for batch in batches:
        with (
            SetWorkflowID(batch.workflow_id),
            SetEnqueueOptions(queue_partition_key=batch.account_id),
        ):
            await queue.enqueue_async(
                fetch_batch_workflow,
                batch.account_id,
                list(batch.external_row_ids),
                batch.lease_until,
            )
    posts = sum(len(b.external_row_ids) for b in batches)
    if batches:
        log.info("insights.pass.enqueued", batches=len(batches), posts=posts)
    return {"posts": posts, "workflow_ids": [b.workflow_id for b in batches]}


@DBOS.workflow()
async def poll_tick_workflow(scheduled_at: datetime, _context_arg: Any) -> None:
    """The scheduled entry point (DBOS runs it once per tick across all workers)."""
    await poll_pass_workflow(scheduled_at.isoformat())


# --- lifecycle -----------------------------------------------------------------------------


async def open_poller(
    runtime: Runtime,
    executor: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    owns_runtime: bool = False,
) -> PollerContext:
    """The poller's context in this process (before DBOS launches)."""
    global _context
    async with runtime.sessionmaker() as session:
        refresher = await open_refresher(runtime, session, transport=transport)
    _context = PollerContext(runtime, refresher, executor, owns_runtime=owns_runtime)
    return _context


async def register_poller(settings: Settings) -> Queue:
    """The poller's queue (after DBOS launched: DBOS 3.4 persists queues in its database)."""
    queue = await DBOS.register_queue_async(
        QUEUE_NAME,
        worker_concurrency=settings.INSIGHTS_WORKER_CONCURRENCY,
        partition_concurrency=settings.INSIGHTS_ACCOUNT_CONCURRENCY,
        polling_interval_sec=settings.INSIGHTS_QUEUE_POLL_SECONDS,
        on_conflict="always_update",
    )
    _ctx().queue = queue
    # DBOS looks for new queues once a second: without this wait a pass started right away
    # (`--once`) sat idle for up to a second first.
    if not await wait_for_queue_worker(QUEUE_NAME):
        log.warning("insights.poller.queue_worker_slow", queue=QUEUE_NAME)
    return queue


def poller_schedule(settings: Settings) -> ScheduleInput:
    return {
        "schedule_name": SCHEDULE_NAME,
        "workflow_fn": poll_tick_workflow,
        "schedule": tick_cron(settings.INSIGHTS_POLL_TICK_SECONDS),
    }


async def start_poller(
    runtime: Runtime | None = None,
    *,
    schedule: bool = True,
    settings: Settings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    role: str = "worker",
) -> PollerContext:
    """Launch DBOS in this process with the poller alone (`postmeter poll`, tests);
    `workers.background` starts it together with the publishing engine.

    `transport` routes platform HTTP elsewhere (tests run the sandbox in-process); `role`
    (worker, serve, poll) is part of the default executor id (`executor_id`).
    """
    owns = runtime is None
    runtime = runtime or build_runtime(settings or load_settings())
    s = runtime.settings
    executor = executor_id(s, role)
    claim_worker_id(s, executor)  # before anything starts: refused if a live process has it
    try:
        ctx = await open_poller(runtime, executor, transport=transport, owns_runtime=owns)
        launch_dbos(s, executor)
        await register_poller(s)
        if schedule:
            await DBOS.apply_schedules_async([poller_schedule(s)])
    except BaseException:
        release_worker_claim()  # a start that failed leaves the id to a restart
        raise
    log.info("insights.poller.started", executor=executor, schedule=schedule)
    return ctx


async def close_poller() -> None:
    """Close what the poller opened (after DBOS was destroyed)."""
    global _context
    ctx = _context
    if ctx is not None:
        await ctx.refresher.clients.aclose()
        if ctx.owns_runtime:
            await ctx.runtime.aclose()
    _context = None


async def stop_poller() -> None:
    destroy_dbos()
    await close_poller()


# --- one pass (`--once`, `postmeter poll`) -------------------------------------------------


@dataclass
class PassSummary:
    posts: int = 0
    batches: int = 0
    fetched: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, result: dict[str, Any]) -> None:
        self.batches += 1
        self.posts += int(result.get("posts", 0))
        self.fetched += int(result.get("fetched", 0))
        for kind, n in dict(result.get("errors", {})).items():
            self.errors[kind] = self.errors.get(kind, 0) + int(n)


ACTIVE_STATUSES = ["ENQUEUED", "PENDING", "DELAYED"]


async def _unfinished(workflow: Any) -> list[str]:
    """Ids of `workflow`'s runs still to finish: queued ones (any worker may take them) and
    ones this worker runs, or had started when it was killed.

    One query, one snapshot: DBOS recovers a killed worker's workflows on launch in a
    background thread by putting them back on their queue (PENDING -> ENQUEUED). Asked in
    two queries, a workflow that moved between them was in neither answer, and a `--once`
    after a kill finished while that batch still ran (cancelled when DBOS was destroyed).
    """
    rows = await DBOS.list_workflows_async(
        status=ACTIVE_STATUSES,
        name=workflow.__qualname__,
        load_input=False,
        load_output=False,
    )
    mine = _ctx().executor_id
    return [w.workflow_id for w in rows if w.status != "PENDING" or w.executor_id == mine]


async def _pending_fetch_ids() -> list[str]:
    """Batches to wait for before a pass: an interrupted pass of this worker is finished
    first (it may still be enqueueing batches), then every unfinished batch is listed."""
    fetch_ids: list[str] = []
    for pass_id in await _unfinished(poll_pass_workflow):
        handle: WorkflowHandleAsync[dict[str, Any]] = await DBOS.retrieve_workflow_async(pass_id)
        result = await handle.get_result(polling_interval_sec=RESULT_POLL_SECONDS)
        fetch_ids += result["workflow_ids"]
    return [*dict.fromkeys([*fetch_ids, *await _unfinished(fetch_batch_workflow)])]


async def run_once(progress: Any = None) -> PassSummary:
    """Complete any unfinished batches, then pass until nothing is due; wait for every batch."""
    summary = PassSummary()
    ctx = _ctx()
    workflow_ids = await _pending_fetch_ids()
    while True:
        now = utcnow()
        await ctx.refresher.release_unreleased(now)  # claims a failed store could not put back
        async with ctx.runtime.sessionmaker() as session:
            due = await count_due(session, now)
        if due == 0:
            break
        handle = await DBOS.start_workflow_async(poll_pass_workflow, utcnow().isoformat())
        result = await handle.get_result()
        workflow_ids += result["workflow_ids"]
        if not result["workflow_ids"]:
            break
    if progress is not None:
        progress(0, len(workflow_ids))
    for i, wf_id in enumerate(dict.fromkeys(workflow_ids)):
        handle = await DBOS.retrieve_workflow_async(wf_id)
        # DBOS polls for the result once a second by default: up to a second lost at the end.
        summary.add(await handle.get_result(polling_interval_sec=RESULT_POLL_SECONDS))
        if progress is not None:
            progress(i + 1, len(workflow_ids))
    return summary


def _print_summary(summary: PassSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="insights poll pass")
    table.add_column("posts", justify="right")
    table.add_column("batches", justify="right")
    table.add_column("fetched", justify="right")
    table.add_column("errors")
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(summary.errors.items())) or "none"
    table.add_row(str(summary.posts), str(summary.batches), str(summary.fetched), errors)
    Console().print(table)


async def run_cli(*, once: bool) -> int:
    async with command_runtime() as runtime:
        await start_poller(runtime, schedule=not once, role="poll" if once else "worker")
        tune_gc_for_service()
        try:
            if once:
                summary = await _run_once_with_progress()
                _print_summary(summary)
                return 0
            await asyncio.Event().wait()  # until cancelled (Ctrl-C / SIGTERM)
            return 0
        finally:
            await stop_poller()


async def _run_once_with_progress() -> PassSummary:
    if not sys.stdout.isatty():
        return await run_once()
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("fetching", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return await run_once(update)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Postmeter insights poller")
    parser.add_argument("--once", action="store_true", help="run one pass, print a summary")
    args = parser.parse_args(argv)
    use_private_umask()
    try:
        return asyncio.run(run_cli(once=args.once))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
