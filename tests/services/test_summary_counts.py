"""The summary's counts (app.services.insights.summary), one pass over the workspace's posts:
tracked = live posts, due = live posts whose next fetch has come, fetched in 24 h = any post
fetched since then; another workspace's posts count for nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.core.runtime import Runtime
from app.models import ExternalStatus, Provider, ScheduleExternal
from app.models.base import utcnow
from app.services.insights import summary
from tests.factories import make_account, track_posts


async def test_summary_counts_by_status_due_time_and_last_fetch(runtime: Runtime) -> None:
    ws, account = await make_account(runtime)
    posts = await track_posts(
        runtime,
        workspace_id=ws,
        account_id=account,
        provider=Provider.FACEBOOK,
        external_ids=[f"1234567890_{n}" for n in range(5)],
    )
    other_ws, other_account = await make_account(runtime, external_id="2234567890")
    await track_posts(
        runtime,
        workspace_id=other_ws,
        account_id=other_account,
        provider=Provider.FACEBOOK,
        external_ids=["2234567890_1", "2234567890_2"],
    )
    now = utcnow()
    rows = {  # per post: status, next fetch, last fetch
        0: (ExternalStatus.LIVE, now - timedelta(minutes=1), None),  # due
        1: (ExternalStatus.LIVE, now + timedelta(hours=1), now - timedelta(hours=1)),  # fetched
        2: (ExternalStatus.LIVE, None, now - timedelta(days=2)),  # fetched long ago, not due
        3: (ExternalStatus.DELETED, now - timedelta(hours=1), now - timedelta(hours=2)),
        4: (ExternalStatus.LIVE, now + timedelta(hours=6), now - timedelta(minutes=5)),
    }
    async with runtime.sessionmaker() as session, session.begin():
        for n, (status, next_at, last_at) in rows.items():
            await session.execute(
                update(ScheduleExternal)
                .where(ScheduleExternal.id == posts[n].external_row_id)
                .values(status=status, next_fetch_at=next_at, last_fetched_at=last_at)
            )
    empty_ws, _ = await make_account(runtime, external_id="3234567890")
    async with runtime.sessionmaker() as session:
        result = await summary(session, workspace_id=ws)
        empty = await summary(session, workspace_id=empty_ws)
    assert (result.posts_tracked, result.due_now, result.fetched_last_24h) == (4, 1, 3)
    assert (empty.posts_tracked, empty.due_now, empty.fetched_last_24h) == (0, 0, 0)
