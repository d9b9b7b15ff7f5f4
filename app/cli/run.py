"""Long-running commands: the API server, the background worker, the platform sandbox."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn

from app.cli.common import ensure_schema, load_settings_and_logging
from app.core.runtime import build_runtime
from app.main import create_app


async def _serve(host: str, port: int) -> None:
    settings = load_settings_and_logging()
    runtime = build_runtime(settings)
    try:
        await ensure_schema(runtime)
        app = create_app(settings, runtime=runtime)
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        await uvicorn.Server(config).serve()
    finally:
        await runtime.aclose()


def register(cli: typer.Typer) -> None:
    @cli.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ) -> None:
        """Run the API (on SQLite, the background worker runs in-process too)."""
        asyncio.run(_serve(host, port))

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
    ) -> None:
        """Run the local Meta Graph / LinkedIn API emulator (for development and tests)."""
        from app.sandbox.server import serve as serve_sandbox

        serve_sandbox(host, port, seed=seed, state_file=state_file, clock_speed=clock_speed)
