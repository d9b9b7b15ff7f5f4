"""Long-running commands: the API server and the background worker."""

from __future__ import annotations

import asyncio
import socket
from typing import Annotated, Any

import typer
import uvicorn

from app.cli.common import command_runtime, err_console
from app.core.config import Settings
from app.core.runtime import Runtime, tune_gc_for_service
from app.main import create_app
from app.sandbox.ports import PortUnavailable, bind_socket


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
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            **head_limits(settings),
        )
        await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
    finally:
        if worker is not None:
            await worker.stop()


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
            asyncio.run(_serve(sock))

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
