"""`postmeter publish SCHEDULE_ID`: publish a draft or scheduled post now and wait for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

import typer
from sqlalchemy import select

from app.cli.common import command_runtime
from app.core.errors import DomainError
from app.models import Schedule, ScheduleStatus
from app.services import publishing
from app.services.schedules import get_schedule

WAIT_SECONDS = 120.0


async def _publish(schedule_id: uuid.UUID) -> int:
    from workers import background

    async with command_runtime() as runtime:
        async with runtime.sessionmaker() as session, session.begin():
            workspace_id = await session.scalar(
                select(Schedule.workspace_id).where(Schedule.id == schedule_id)
            )
            if workspace_id is None:
                typer.echo(f"schedule {schedule_id} not found", err=True)
                return 1
            try:
                await publishing.publish_now(
                    session, workspace_id=workspace_id, schedule_id=schedule_id
                )
            except DomainError as exc:
                typer.echo(exc.message, err=True)
                return 1
        await background.start_background(runtime, role="publish", poller=False, schedule=False)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                await background.run_publish_pass()
                async with runtime.sessionmaker() as session:
                    schedule = await get_schedule(
                        session, workspace_id=workspace_id, schedule_id=schedule_id
                    )
                if schedule.status != ScheduleStatus.PUBLISHING:
                    break
                await asyncio.sleep(0.5)
        finally:
            await background.stop_background()
    for t in schedule.targets:
        detail = t.external_id or t.error or ""
        typer.echo(f"{t.provider.value:<10} {t.state.value:<11} {detail}")
    typer.echo(f"schedule {schedule.status.value}")
    return 0 if schedule.status == ScheduleStatus.POSTED else 1


def register(cli: typer.Typer) -> None:
    @cli.command("publish")
    def publish(
        schedule_id: Annotated[uuid.UUID, typer.Argument(help="The schedule to publish now.")],
    ) -> None:
        """Publish a draft or scheduled post now, wait until every target is settled, and
        print each target's state (exit 1 unless all posted)."""
        raise typer.Exit(asyncio.run(_publish(schedule_id)))
