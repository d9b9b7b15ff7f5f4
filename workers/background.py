"""Background work of one process: the insights poller and the publishing engine, on one DBOS.

DBOS is one per process (`workers.dbos_runtime`); both register their queues and ticks on it
here. `postmeter worker` runs this; `postmeter serve` on SQLite runs it in-process.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import httpx
import structlog
from dbos import DBOS

from app.core.config import ConfigError
from app.core.files import use_private_umask
from app.core.runtime import Runtime, tune_gc_for_service
from app.scheduler import engine
from app.scheduler.steps import PublisherFor, PublishSteps
from app.services.platform_clients import PublishingClients, build_publishing_clients
from app.services.startup import command_runtime
from workers import insights_poller
from workers.dbos_adapter import wait_for_queue_worker
from workers.dbos_runtime import destroy_dbos, executor_id, launch_dbos, tick_cron
from workers.worker_claim import claim_worker_id, release_worker_claim

log = structlog.get_logger(__name__)


@dataclass
class Background:
    runtime: Runtime
    executor_id: str
    poller: insights_poller.PollerContext | None
    engine: engine.EngineContext | None
    publishing_clients: PublishingClients | None = None


_current: Background | None = None


async def start_background(
    runtime: Runtime,
    *,
    role: str = "worker",
    schedule: bool = True,
    poller: bool = True,
    publishing: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    publisher_for: PublisherFor | None = None,
) -> Background:
    """Launch DBOS with the poller and/or the engine; `schedule` starts their ticks.

    `transport` routes platform HTTP elsewhere and `publisher_for` replaces the publishers
    (tests)."""
    global _current
    s = runtime.settings
    executor = executor_id(s, role)
    claim_worker_id(s, executor)  # before anything starts: refused if a live process has it
    try:
        poller_ctx = (
            await insights_poller.open_poller(runtime, executor, transport=transport)
            if poller
            else None
        )
        engine_ctx = None
        owned_clients = None
        if publishing:
            if publisher_for is None:
                owned_clients = build_publishing_clients(s, transport=transport)
                publisher_for = owned_clients.publishers.for_provider
            publishers = publisher_for
            engine_ctx = engine.EngineContext(runtime, PublishSteps(runtime, publishers, executor))
            engine.install(engine_ctx)
        launch_dbos(s, executor)
        schedules = []
        if poller_ctx is not None:
            await insights_poller.register_poller(s)
            schedules.append(insights_poller.poller_schedule(s))
        if engine_ctx is not None:
            engine_ctx.queue = await DBOS.register_queue_async(
                engine.QUEUE_NAME,
                worker_concurrency=s.PUBLISH_WORKER_CONCURRENCY,
                partition_concurrency=s.PUBLISH_ACCOUNT_CONCURRENCY,
                polling_interval_sec=s.PUBLISH_QUEUE_POLL_SECONDS,
                on_conflict="always_update",
            )
            engine_ctx.prepare_queue = await DBOS.register_queue_async(
                engine.PREPARE_QUEUE_NAME,
                worker_concurrency=s.PUBLISH_PREPARE_WORKER_CONCURRENCY,
                partition_concurrency=s.PUBLISH_PREPARE_ACCOUNT_CONCURRENCY,
                polling_interval_sec=s.PUBLISH_QUEUE_POLL_SECONDS,
                on_conflict="always_update",
            )
            for name in (engine.QUEUE_NAME, engine.PREPARE_QUEUE_NAME):
                if not await wait_for_queue_worker(name):
                    log.warning("publish.queue_worker_slow", queue=name)
            schedules.append(
                {
                    "schedule_name": engine.SCHEDULE_NAME,
                    "workflow_fn": engine.publish_tick_workflow,
                    "schedule": tick_cron(s.PUBLISH_TICK_SECONDS),
                }
            )
        if schedule and schedules:
            await DBOS.apply_schedules_async(schedules)
        _current = Background(runtime, executor, poller_ctx, engine_ctx, owned_clients)
        log.info("background.started", executor=executor, poller=poller, publishing=publishing)
        return _current
    except BaseException:
        release_worker_claim()  # a start that failed leaves the id to a restart
        raise


async def stop_background() -> None:
    global _current
    destroy_dbos()
    if _current is not None and _current.poller is not None:
        await insights_poller.close_poller()
    if _current is not None and _current.publishing_clients is not None:
        await _current.publishing_clients.aclose()
    engine.uninstall()
    _current = None


async def run_publish_pass() -> list[str]:
    """One engine pass now (the CLI, tests): the workflow ids it enqueued."""
    from app.models.base import utcnow

    handle = await DBOS.start_workflow_async(engine.publish_pass_workflow, utcnow().isoformat())
    result = await handle.get_result()
    return list(result["workflow_ids"])


async def run_worker() -> int:
    async with command_runtime() as runtime:
        await start_background(runtime, role="worker")
        tune_gc_for_service()
        try:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C / SIGTERM)
            return 0
        finally:
            await stop_background()


def main() -> int:
    use_private_umask()
    try:
        return asyncio.run(run_worker())
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
