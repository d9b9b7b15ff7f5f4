"""Background work of one process: the insights poller and the publishing engine, on one DBOS.

DBOS is one per process (`workers.dbos_runtime`); both register their queues and ticks on it
here. `postmeter worker` runs this; `postmeter serve` on SQLite runs it in a child process of
its own (`WorkerProcess`): DBOS runs its workflows on the event loop that launched it, and on
the API's loop every request waited for the poller's CPU-bound stretches (p99 of 1.7 s at one
connection, bench/bench_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx
import structlog
from dbos import DBOS

from app.core.config import ConfigError, Settings
from app.core.files import use_private_umask
from app.core.logging import configure_logging
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
    """`postmeter worker`: until SIGTERM (how systemd, Kubernetes and `docker stop` ask a
    process to stop) or Ctrl-C, then DBOS is shut down and the worker id released; what was
    in flight resumes at the next start under the same id."""
    stop = asyncio.Event()
    # Before anything starts: a SIGTERM during start-up stops it as soon as it has started.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with command_runtime() as runtime:
        await start_background(runtime, role="worker")
        tune_gc_for_service()
        try:
            await stop.wait()  # Ctrl-C cancels it instead (KeyboardInterrupt)
            log.info("background.stopping", reason="SIGTERM")
            return 0
        finally:
            await stop_background()


# --- `serve`'s background work, in a child process -----------------------------------------

# How long `serve` waits for its worker to start (DBOS launch, queues, the worker id's claim).
WORKER_START_TIMEOUT_S = 120.0
# How long a stopping worker has to finish (then SIGTERM, then SIGKILL).
WORKER_STOP_TIMEOUT_S = 30.0
# A worker that died while serving is started again after this, doubling to the maximum.
WORKER_RESTART_DELAY_S = (1.0, 30.0)


class WorkerStartFailed(ConfigError):
    """The child worker refused to start (e.g. its worker id is held by a live process)."""


class WorkerProcess:
    """The background work of `serve` in a child process, supervised by the server.

    Started before the server serves, stopped after it stopped; restarted (with a delay) if it
    dies meanwhile. It runs under the same worker id as before (`role="serve"`), so what an
    earlier run left in flight is recovered. It watches a pipe to the server: if the server
    dies without stopping it (`kill -9`), the pipe closes and the worker stops too.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._proc: Any = None
        self._conn: Connection | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the child and wait until its background work runs; WorkerStartFailed if
        it refuses or dies first."""
        await self._spawn()
        self._monitor = asyncio.create_task(self._supervise())

    async def _spawn(self) -> None:
        # spawn, not fork: the server already has threads and an event loop.
        ctx = multiprocessing.get_context("spawn")
        conn, child_conn = ctx.Pipe()
        proc = ctx.Process(
            target=_worker_child,
            args=(self.settings, child_conn),
            name="postmeter-serve-worker",
        )
        proc.start()
        child_conn.close()
        if self._conn is not None:
            self._conn.close()  # the pipe to a worker that died (a restart)
        self._proc, self._conn = proc, conn
        answer = await asyncio.to_thread(_await_answer, conn, proc, WORKER_START_TIMEOUT_S)
        if answer is None or answer[0] != "ready":
            await asyncio.to_thread(_end_process, proc, 5.0)
            reason = answer[1] if answer is not None else f"exit code {proc.exitcode}"
            raise WorkerStartFailed(f"the background worker did not start: {reason}")
        log.info("background.worker_process", pid=proc.pid)

    async def _supervise(self) -> None:
        delay, most = WORKER_RESTART_DELAY_S
        while True:
            proc = self._proc
            await asyncio.to_thread(proc.join)
            if self._stopping:
                return
            if proc.exitcode == 0:
                # It exits 0 only when asked to stop: a Ctrl-C or a SIGTERM sent to the whole
                # process group (systemd) reached it before the server stopped it.
                log.info("background.worker_stopped", pid=proc.pid)
                return
            log.error("background.worker_exited", pid=proc.pid, exit_code=proc.exitcode)
            while not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, most)
                try:
                    await self._spawn()
                    delay = WORKER_RESTART_DELAY_S[0]
                    break
                except Exception as exc:  # refused, or could not even start: try again later
                    log.error("background.worker_restart_failed", error=str(exc))

    async def stop(self) -> None:
        self._stopping = True
        if self._monitor is not None:
            # Not waited out: it may sit in a restart's backoff (up to 30 s).
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self._conn is not None:
            try:
                self._conn.send(("stop",))
            except OSError:
                pass  # it is gone already
        if self._proc is not None:
            await asyncio.to_thread(_end_process, self._proc, WORKER_STOP_TIMEOUT_S)
        if self._conn is not None:
            self._conn.close()


def _await_answer(conn: Connection, proc: Any, timeout_s: float) -> tuple[str, ...] | None:
    """The child's first message, or None if it exited (or said nothing in time)."""
    waited = 0.0
    while waited < timeout_s:
        if conn.poll(0.1):
            try:
                message: tuple[str, ...] = conn.recv()
                return message
            except EOFError:
                return None
        if not proc.is_alive():
            # What it said just before it exited (its refusal) may have arrived meanwhile.
            if conn.poll(0):
                with contextlib.suppress(EOFError):
                    last: tuple[str, ...] = conn.recv()
                    return last
            return None
        waited += 0.1
    return ("timeout", f"no answer in {timeout_s:.0f} s")


def _end_process(proc: Any, timeout_s: float) -> None:
    """Wait for it to stop; then SIGTERM; then SIGKILL."""
    proc.join(timeout_s)
    if proc.is_alive():
        proc.terminate()
        proc.join(5.0)
    if proc.is_alive():
        proc.kill()
        proc.join(5.0)


def _worker_child(settings: Settings, conn: Connection) -> None:
    """The child's entry point (a fresh interpreter: `spawn`)."""
    use_private_umask()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    if settings.SERVE_WORKER_NICE:
        os.nice(settings.SERVE_WORKER_NICE)
    try:
        code = asyncio.run(_run_worker_child(settings, conn))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


async def _run_worker_child(settings: Settings, conn: Connection) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The server migrated the schema before it started this.
    async with command_runtime(settings=settings, migrate=False) as runtime:
        try:
            await start_background(runtime, role="serve")
        except ConfigError as exc:
            conn.send(("failed", str(exc)))
            return 2
        try:
            tune_gc_for_service()
            try:
                conn.send(("ready",))
            except OSError:
                return 0  # the server died while this started: stop (DBOS shut down below)

            def watch_server() -> None:
                # A message ("stop") or the pipe closing (the server is gone): stop.
                try:
                    conn.recv()
                except (EOFError, OSError):
                    pass
                loop.call_soon_threadsafe(stop.set)

            threading.Thread(target=watch_server, name="server-watch", daemon=True).start()
            await stop.wait()
        finally:
            await stop_background()
    return 0


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
