"""Long-running commands: the API server, the background worker, the platform sandbox."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn

from app.cli.common import command_runtime, console
from app.core.config import Settings
from app.core.runtime import Runtime, tune_gc_for_service
from app.main import create_app


async def serve_api(
    settings: Settings, runtime: Runtime, host: str, port: int, *, in_process_worker: bool
) -> None:
    """Serve the API (the schema must be current); on SQLite the poller runs in-process."""
    from workers import insights_poller

    app = create_app(settings, runtime=runtime)
    if in_process_worker:
        poller = await insights_poller.start_poller(runtime, schedule=True, role="serve")
        app.state.refresher = poller.refresher  # the API's "fetch now" shares its clients
    tune_gc_for_service()
    try:
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        await uvicorn.Server(config).serve()
    finally:
        if in_process_worker:
            await insights_poller.stop_poller()


async def _serve(host: str, port: int) -> None:
    async with command_runtime() as runtime:
        settings = runtime.settings
        await serve_api(settings, runtime, host, port, in_process_worker=settings.is_sqlite)


def register(cli: typer.Typer) -> None:
    @cli.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ) -> None:
        """Run the API (on SQLite, the background worker runs in-process too)."""
        asyncio.run(_serve(host, port))

    @cli.command("worker")
    def worker() -> None:
        """Run background work only (the insights poller), for scale-out on PostgreSQL."""
        from workers import insights_poller

        raise typer.Exit(insights_poller.main([]))

    @cli.command("poll")
    def poll(
        once: Annotated[
            bool, typer.Option("--once/--forever", help="One pass with a summary, or keep going.")
        ] = True,
    ) -> None:
        """Poll insights now: one pass over every due post (progress bar in a terminal)."""
        from workers import insights_poller

        raise typer.Exit(insights_poller.main(["--once"] if once else []))

    @cli.command("sandbox")
    def sandbox(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 9100,
        seed: Annotated[str | None, typer.Option(help="Start with a world: `demo`.")] = None,
        state_file: Annotated[
            str | None, typer.Option(help="Load and persist sandbox state in this JSON file.")
        ] = None,
        clock_speed: Annotated[
            float, typer.Option(help="Sandbox seconds per real second.", min=0.0)
        ] = 1.0,
        quiet: Annotated[bool, typer.Option(help="Do not print the world on start.")] = False,
    ) -> None:
        """Run the local Meta Graph / LinkedIn API emulator (for development and tests)."""
        from app.sandbox.server import serve as serve_sandbox

        if seed not in (None, "demo"):
            console.print("[red]error:[/red] --seed takes `demo`")
            raise typer.Exit(2)
        serve_sandbox(
            host, port, seed=seed, state_file=state_file, clock_speed=clock_speed, quiet=quiet
        )
