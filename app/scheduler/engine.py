"""The publishing engine on DBOS: a tick that claims due posts, and workflows per attempt.

A scheduled workflow (`PUBLISH_TICK_SECONDS`, run once per tick across all workers: DBOS
derives its id from the tick time) claims the schedules due within
`PUBLISH_PREPARE_AHEAD_SECONDS`, in `publish_at` order, and starts their targets. Each
attempt then runs as workflows with deterministic ids (enqueuing the same id twice is a
no-op), on two queues partitioned by account:

- `publish:{target_id}:{attempt}` (`publish_workflow`, queue `publish-prepare`): uploads,
  containers and the wait for the platform to process them, up to
  `PUBLISH_PREPARE_ACCOUNT_CONCURRENCY` per account; then it hands the call over, delayed
  until `publish_at`.
- `publish-call:{target_id}:{attempt}` (`publish_call_workflow`, queue `publish`): the quota
  read and the create call, `PUBLISH_ACCOUNT_CONCURRENCY` per account across all workers. It
  holds the account's turn only for that: a reply that leaves the outcome unknown gets one
  look at once, and the looks after it, which wait, go to
- `settle:{target_id}:{attempt}` (`publish_workflow` again, queue `publish-prepare`), which
  reconciles until the target is settled. The sweep uses the same id.

So a post waits for its account's turn only behind other posts' calls, never behind their
media processing or reconciliation (measured: docs/BENCHMARKS.md, issue 9).
The tick also sweeps targets still `publishing` past their settle bound (rule 5).

Right before the create call the account's publishing quota is read (Instagram's
`content_publishing_limit`); a post that would exceed it, or whose create is refused for the
quota, sleeps durably until the window should have room and reads it again (`quota.py`).

The step that makes the create call runs with DBOS retries off: DBOS re-executes a step whose
result it did not record, and `PublishSteps.call` turns such a re-execution into a
reconciliation rather than a second call.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from dbos import DBOS, Queue, SetEnqueueOptions, SetWorkflowID

from app.core.runtime import Runtime
from app.models import AttemptPhase
from app.scheduler.steps import Outcome, PublishSteps
from app.services.publish_attempts import AttemptKey
from app.services.publish_claims import (
    StartedAttempt,
    claim_due_schedules,
    start_pending_targets,
    stuck_targets,
)

log = structlog.get_logger(__name__)

QUEUE_NAME = "publish"  # the create calls: the account's turn
PREPARE_QUEUE_NAME = "publish-prepare"  # preparation and reconciliation: waits on the platform
SCHEDULE_NAME = "publish-tick"
CLAIM_LIMIT = 1000
# Workflow states in which a publish workflow is only waiting for its turn, not stuck.
WAITING_STATES = frozenset({"ENQUEUED", "DELAYED"})
RUNNING_STATES = WAITING_STATES | {"PENDING"}
# The reconcile loop's longest sleep between two looks.
MAX_RECONCILE_WAIT_S = 120.0
# Reads of processing media: PUBLISH_MEDIA_POLL_SECONDS, growing by half per read, up to this.
MAX_MEDIA_WAIT_S = 15.0


@dataclass
class EngineContext:
    runtime: Runtime
    steps: PublishSteps
    queue: Queue | None = None  # QUEUE_NAME
    prepare_queue: Queue | None = None  # PREPARE_QUEUE_NAME


_context: EngineContext | None = None


def install(ctx: EngineContext) -> None:
    global _context
    _context = ctx


def uninstall() -> None:
    global _context
    _context = None


def _ctx() -> EngineContext:
    if _context is None:
        raise RuntimeError("the publishing engine is not started in this process")
    return _context


def publish_workflow_id(target_id: str, number: int) -> str:
    return f"publish:{target_id}:{number}"


def call_workflow_id(target_id: str, number: int) -> str:
    return f"publish-call:{target_id}:{number}"


def settle_workflow_id(target_id: str, number: int) -> str:
    return f"settle:{target_id}:{number}"


def _key(target_id: str, number: int) -> AttemptKey:
    return AttemptKey(uuid.UUID(target_id), number)


# --- steps (each a transaction or a platform call; outputs recorded by DBOS) ---------------

# Every step but the call is redo-safe (its transaction is a compare-and-set on the phase it
# expects), so a failure that is not an answer — the database refusing a connection (pool or
# server exhausted, a failover), a dropped connection — is retried in place instead of ending
# the workflow in ERROR and leaving the target to the settle bound's sweep.
REDO_SAFE: dict[str, Any] = {
    "retries_allowed": True,
    "interval_seconds": 0.5,
    "max_attempts": 6,  # 0.5 + 1 + 2 + 4 + 8 s of waits
    "backoff_rate": 2.0,
}


@DBOS.step(**REDO_SAFE)
async def prepare_step(target_id: str, number: int) -> dict[str, Any]:
    return (await _ctx().steps.prepare(_key(target_id, number))).to_dict()


@DBOS.step(**REDO_SAFE)
async def check_ready_step(target_id: str, number: int) -> dict[str, Any]:
    return (await _ctx().steps.check_ready(_key(target_id, number))).to_dict()


@DBOS.step(**REDO_SAFE)
async def quota_step(target_id: str, number: int) -> dict[str, Any]:
    return (await _ctx().steps.check_quota(_key(target_id, number))).to_dict()


@DBOS.step(retries_allowed=False)
async def call_step(target_id: str, number: int) -> dict[str, Any]:
    """THE irreversible call: never retried by DBOS (see the module docstring)."""
    return (await _ctx().steps.call(_key(target_id, number))).to_dict()


@DBOS.step(**REDO_SAFE)
async def reconcile_step(target_id: str, number: int) -> dict[str, Any]:
    return (await _ctx().steps.reconcile(_key(target_id, number))).to_dict()


@DBOS.step(**REDO_SAFE)
async def next_attempt_step(target_id: str, number: int, transient: bool) -> int | None:
    return await _ctx().steps.next_attempt(_key(target_id, number), transient=transient)


@DBOS.step(**REDO_SAFE)
async def publish_claim_step(now_iso: str) -> list[dict[str, Any]]:
    """Claim what is due and open its attempts (recorded: a replay enqueues the same ones)."""
    ctx = _ctx()
    s = ctx.runtime.settings
    now = datetime.fromisoformat(now_iso)
    ahead = timedelta(seconds=s.PUBLISH_PREPARE_AHEAD_SECONDS)
    async with ctx.runtime.sessionmaker() as session, session.begin():
        await claim_due_schedules(session, now=now, limit=CLAIM_LIMIT, ahead=ahead)
        started = await start_pending_targets(
            session,
            now=now,
            settle=timedelta(minutes=s.PUBLISH_SETTLE_MINUTES),
            retry_deadline=timedelta(minutes=s.PUBLISH_RETRY_DEADLINE_MINUTES),
            limit=CLAIM_LIMIT * 3,
        )
    return [asdict(a) for a in started]


@DBOS.step(**REDO_SAFE)
async def publish_stuck_step(now_iso: str) -> list[dict[str, Any]]:
    ctx = _ctx()
    async with ctx.runtime.sessionmaker() as session:
        stuck = await stuck_targets(session, now=datetime.fromisoformat(now_iso), limit=500)
    return [asdict(t) for t in stuck]


@DBOS.step(**REDO_SAFE)
async def extend_step(target_id: str, number: int) -> None:
    await _ctx().steps.extend(_key(target_id, number))


@DBOS.step(**REDO_SAFE)
async def restart_step(target_id: str, number: int) -> int | None:
    return await _ctx().steps.restart(_key(target_id, number))


@DBOS.step(**REDO_SAFE)
async def give_up_step(target_id: str, number: int, reason: str) -> None:
    await _ctx().steps.give_up(_key(target_id, number), reason)


# --- workflows -----------------------------------------------------------------------------


async def _enqueue(
    item: StartedAttempt, *, workflow_id: str | None = None, delay: float = 0
) -> None:
    """`publish_workflow` on the prepare queue (a new attempt, or a settle workflow)."""
    queue = _ctx().prepare_queue
    assert queue is not None
    with (
        SetWorkflowID(workflow_id or publish_workflow_id(item.target_id, item.number)),
        SetEnqueueOptions(
            queue_partition_key=item.account_id, delay_seconds=delay if delay > 0 else None
        ),
    ):
        await queue.enqueue_async(publish_workflow, item.target_id, item.number, item.account_id)


async def _enqueue_call(item: StartedAttempt, *, delay: float) -> None:
    """`publish_call_workflow` on the account's queue, delayed until `publish_at`."""
    queue = _ctx().queue
    assert queue is not None
    with (
        SetWorkflowID(call_workflow_id(item.target_id, item.number)),
        SetEnqueueOptions(
            queue_partition_key=item.account_id, delay_seconds=delay if delay > 0 else None
        ),
    ):
        await queue.enqueue_async(
            publish_call_workflow, item.target_id, item.number, item.account_id
        )


def _media_wait(hint_s: float, reads: int) -> float:
    """The wait before the next status read of processing media: the publisher's hint, or
    the engine's cadence (`PUBLISH_MEDIA_POLL_SECONDS`, growing by half per read), whichever
    is longer. Images are usually ready within seconds; videos take minutes."""
    base = _ctx().runtime.settings.PUBLISH_MEDIA_POLL_SECONDS
    return max(hint_s, min(base * 1.5**reads, MAX_MEDIA_WAIT_S))


@DBOS.workflow()
async def publish_workflow(target_id: str, number: int, account_id: str) -> str:
    """One attempt from wherever it stands: preparation and the wait for the media (handing
    the call to `publish_call_workflow`), or, for a call whose outcome is unknown, the
    reconciliation (as `settle:...`)."""
    item = StartedAttempt(target_id, number, account_id)
    out = Outcome.from_dict(await prepare_step(target_id, number))
    reads = 0
    while out.next == "wait":  # media still processing (Instagram container, LinkedIn video)
        await DBOS.sleep_async(_media_wait(out.wait_s, reads))
        reads += 1
        out = Outcome.from_dict(await check_ready_step(target_id, number))
    if out.next in ("call", "quota"):
        await _enqueue_call(item, delay=out.wait_s if out.next == "call" else 0)
        return "call"
    return await _settle(item, out)


@DBOS.workflow()
async def publish_call_workflow(target_id: str, number: int, account_id: str) -> str:
    """The account's turn: the quota read and THE create call, then one look when its
    outcome is unknown; longer reconciliation is handed to the settle workflow."""
    item = StartedAttempt(target_id, number, account_id)
    out = Outcome("call")
    while out.next in ("call", "quota"):
        if out.next == "quota":  # the quota is used up (or it is not yet time): wait
            await DBOS.sleep_async(out.wait_s)
        out = Outcome.from_dict(await quota_step(target_id, number))
        if out.next == "call":
            out = Outcome.from_dict(await call_step(target_id, number))
    if out.next == "reconcile" and out.wait_s <= 0:
        out = Outcome.from_dict(await reconcile_step(target_id, number))  # often found at once
    if out.next == "reconcile":
        first = _ctx().runtime.settings.PUBLISH_RECONCILE_SECONDS
        await _enqueue(item, workflow_id=settle_workflow_id(target_id, number), delay=first)
        return "reconcile"
    return await _settle(item, out)


async def _settle(item: StartedAttempt, out: Outcome) -> str:
    """Reconcile until settled, then start the next attempt when one is due."""
    target_id, number = item.target_id, item.number
    wait = _ctx().runtime.settings.PUBLISH_RECONCILE_SECONDS
    while out.next == "reconcile":
        if out.wait_s > 0:
            # Look again with backoff, and once more just after the settle bound.
            await DBOS.sleep_async(min(wait, out.wait_s + 0.05))
            wait = min(wait * 2, MAX_RECONCILE_WAIT_S)
        out = Outcome.from_dict(await reconcile_step(target_id, number))
    if out.next in ("retry", "absent"):
        following = await next_attempt_step(target_id, number, out.next == "retry")
        if following is not None:
            await _enqueue(StartedAttempt(target_id, following, item.account_id), delay=out.wait_s)
    return out.next


@DBOS.workflow()
async def publish_pass_workflow(now_iso: str) -> dict[str, Any]:
    """One pass: claim and enqueue what is due, then sweep what is stuck."""
    started = [StartedAttempt(**a) for a in await publish_claim_step(now_iso)]
    for item in started:
        await _enqueue(item)
    swept = 0
    for raw in await publish_stuck_step(now_iso):
        swept += await _sweep_one(raw)
    if started or swept:
        log.info("publish.pass", started=len(started), swept=swept)
    return {"workflow_ids": [publish_workflow_id(a.target_id, a.number) for a in started]}


async def _sweep_one(raw: dict[str, Any]) -> int:
    """Rule 5 for one target past its settle bound; returns 1 when it acted."""
    target_id, number, account_id = raw["target_id"], int(raw["number"]), raw["account_id"]
    phase = AttemptPhase(raw["phase"]) if raw["phase"] else None
    if phase == AttemptPhase.CALLING:
        # The call may have been made: settle by reconciliation, in a workflow of its own.
        settle_id = settle_workflow_id(target_id, number)
        status = await DBOS.get_workflow_status_async(settle_id)
        if status is None:
            await _enqueue(StartedAttempt(target_id, number, account_id), workflow_id=settle_id)
        elif status.status not in RUNNING_STATES:
            await give_up_step(target_id, number, "reconciliation did not finish")
        return 1
    for workflow_id in (
        publish_workflow_id(target_id, number),
        call_workflow_id(target_id, number),
    ):
        status = await DBOS.get_workflow_status_async(workflow_id)
        if status is not None and status.status in WAITING_STATES:
            await extend_step(target_id, number)  # waiting for its turn (or time), not stuck
            return 0
    following = await restart_step(target_id, number)  # nothing was sent: start afresh
    if following is not None:
        await _enqueue(StartedAttempt(target_id, following, account_id))
    return 1


@DBOS.workflow()
async def publish_tick_workflow(scheduled_at: datetime, _context_arg: Any) -> None:
    """The scheduled entry point (once per tick across all workers)."""
    await publish_pass_workflow(scheduled_at.isoformat())
