"""Long-running commands: the API server and the background worker."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Annotated, Any

import typer
import uvicorn
import uvloop
from uvicorn.supervisors import Multiprocess

from app.cli.common import command_runtime, err_console
from app.core.config import Settings
from app.core.runtime import Runtime, tune_gc_for_service
from app.main import create_app
from app.sandbox.ports import PortUnavailable, bind_socket


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options of every `serve`: our logging, no access log, the lifespan, and the
    head limits."""
    return {"log_config": None, "access_log": False, "lifespan": "on", **head_limits(settings)}


def head_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn options that bound what the server buffers of a request's head (issue 10).

    httptools, uvicorn's default parser, keeps reading a header however long it is (a 50 MB
    header was read whole); h11 stops once an unfinished head passes
    `h11_max_incomplete_event_size`, answers 400 and closes the connection. The app's own
    limit (app.core.http_edge.RequestLimits, 431) holds for heads that arrive whole."""
    return {"http": "h11", "h11_max_incomplete_event_size": settings.MAX_REQUEST_HEADER_BYTES}


async def serve_api(
    settings: Settings,
    runtime: Runtime,
    host: str,
    port: int,
    *,
    in_process_worker: bool,
    sock: socket.socket | None = None,
) -> None:
    """Serve the API (the schema must be current); with `in_process_worker` (SQLite) the
    poller and the publishing engine run beside it, in a child process the server starts
    first and stops last (`workers.background.WorkerProcess`). `sock`, when given, is already
    bound to `host:port` (the demo binds before it prints)."""
    from workers import background

    worker = background.WorkerProcess(settings) if in_process_worker else None
    if worker is not None:
        await worker.start()
    app = create_app(settings, runtime=runtime)
    tune_gc_for_service()
    try:
        config = uvicorn.Config(app, host=host, port=port, **server_options(settings))
        await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
    finally:
        if worker is not None:
            await worker.stop()


class _SupervisedOnThread:
    """The background worker process, supervised from an event loop on a thread of its own:
    with several API processes uvicorn's supervisor owns the main thread (and its signals)."""

    def __init__(self, settings: Settings) -> None:
        from workers import background

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="worker-supervisor")
        self.worker = background.WorkerProcess(settings)

    def start(self) -> None:
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.worker.start(), self.loop).result()
        except BaseException:
            self._end_loop()
            raise

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.worker.stop(), self.loop).result()
        finally:
            self._end_loop()

    def _end_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def _prepared_settings() -> Settings:
    """Settings and logging loaded, storage private, the embedded schema migrated."""
    async with command_runtime() as runtime:
        return runtime.settings


def _serve_processes(sock: socket.socket, workers: int) -> None:
    """`workers` API processes on the one socket (uvicorn's supervisor restarts any that
    dies); on SQLite the background worker process beside them, as with one."""
    host, port = sock.getsockname()[:2]
    settings = asyncio.run(_prepared_settings())
    config = uvicorn.Config(
        "app.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **server_options(settings),
    )
    supervised = _SupervisedOnThread(settings) if settings.is_sqlite else None
    if supervised is not None:
        supervised.start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if supervised is not None:
            supervised.stop()


async def _serve(sock: socket.socket) -> None:
    host, port = sock.getsockname()[:2]
    async with command_runtime() as runtime:
        settings = runtime.settings
        await serve_api(
            settings, runtime, host, port, in_process_worker=settings.is_sqlite, sock=sock
        )


def register(cli: typer.Typer) -> None:
    @cli.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                max=64,
                help="API processes sharing the port (one per CPU core uses them all). Rate "
                "limits are per process unless RATE_LIMIT_STORAGE_URL names a shared store.",
            ),
        ] = 1,
    ) -> None:
        """Run the API (on SQLite, the background worker runs beside it, in a child process).

        The port is bound first: a taken one ends the command before any background work
        starts (a second `serve` must not touch the first one's workflows)."""
        try:
            sock = bind_socket(host, port)
        except PortUnavailable as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        with sock:
            if workers > 1:
                _serve_processes(sock, workers)
                return
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                # uvloop (uvicorn's own choice when it runs the loop): the API's requests
                # spend less of their CPU in the event loop than on asyncio's.
                runner.run(_serve(sock))

    @cli.command("worker")
    def worker() -> None:
        """Run background work only (the insights poller and the publishing engine), for
        scale-out on PostgreSQL."""
        from workers import background

        raise typer.Exit(background.main())

    @cli.command("poll")
    def poll(
        once: Annotated[
            bool, typer.Option("--once/--forever", help="One pass with a summary, or keep going.")
        ] = True,
    ) -> None:
        """Poll insights now: one pass over every due post (progress bar in a terminal)."""
        from workers import insights_poller

        raise typer.Exit(insights_poller.main(["--once"] if once else []))
