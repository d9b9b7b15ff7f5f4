"""`postmeter insights ...`: maintenance of stored metrics."""

from __future__ import annotations

import asyncio

import typer
from rich.progress import Progress

from app.cli.common import command_runtime, console
from app.integrations.platforms.linkedin import resolve_linkedin_fields
from app.services.remap import remap_history

insights_cli = typer.Typer(help="Stored metrics.", no_args_is_help=True)


@insights_cli.command("remap")
def remap() -> None:
    """Re-apply the current metric mapping to every stored raw snapshot (no refetching)."""

    async def _go() -> None:
        async with command_runtime() as runtime:
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("remapping", total=None)
                report = await remap_history(
                    runtime.sessionmaker,
                    # The fields the fetch keeps, so remapped history matches fresh fetches.
                    linkedin_fields=resolve_linkedin_fields(
                        runtime.settings.LINKEDIN_STATS_FIELDS
                    ).metrics,
                    progress=lambda n: bar.advance(task, n),
                )
        console.print(f"scanned {report.scanned} snapshot(s), updated {report.changed}")

    asyncio.run(_go())
