"""store_external_reference: a published post is tracked at once, one row per (schedule,
provider), and a re-record (a retried step, a container id replaced by the media id) updates it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.core.runtime import Runtime
from app.models import ErrorKind, ExternalStatus, Provider, Schedule, ScheduleExternal
from app.models.base import utcnow
from app.publishers.base import ExternalRef, store_external_reference
from tests.factories import make_account


async def test_tracked_at_once_then_updated(runtime: Runtime) -> None:
    workspace_id, account_id = await make_account(
        runtime, provider=Provider.INSTAGRAM, external_id="17841400000000001"
    )
    async with runtime.sessionmaker() as session, session.begin():
        schedule = Schedule(workspace_id=workspace_id, text="x")
        session.add(schedule)
        await session.flush()
        schedule_id = schedule.id
    before = utcnow()
    async with runtime.sessionmaker() as session, session.begin():
        row = await store_external_reference(
            session,
            schedule_id=schedule_id,
            workspace_id=workspace_id,
            account_id=account_id,
            ref=ExternalRef(Provider.INSTAGRAM, "C1", None, None),
        )
        row.last_error_kind = ErrorKind.NOT_FOUND
        row.consecutive_failures = 2
    published = datetime(2026, 9, 1, 10, 0, 5, tzinfo=UTC)
    async with runtime.sessionmaker() as session, session.begin():
        await store_external_reference(
            session,
            schedule_id=schedule_id,
            workspace_id=workspace_id,
            account_id=account_id,
            ref=ExternalRef(Provider.INSTAGRAM, "M1", "https://www.instagram.com/p/a/", published),
        )
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(select(ScheduleExternal)))
    assert len(rows) == 1
    (row,) = rows
    assert (row.external_id, row.url, row.published_at) == (
        "M1", "https://www.instagram.com/p/a/", published
    )  # fmt: skip
    assert row.status is ExternalStatus.LIVE
    assert row.next_fetch_at is not None
    assert before - timedelta(seconds=1) <= row.next_fetch_at <= utcnow()  # due at once
    assert (row.last_error_kind, row.consecutive_failures) == (None, 0)
    assert (row.account_id, row.provider) == (account_id, Provider.INSTAGRAM)
