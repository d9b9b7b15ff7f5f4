from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.core.runtime import Runtime
from app.models import Provider, ScheduleExternal
from app.models.base import utcnow
from app.services.poll_planner import claim_due_batches
from tests.factories import make_account, track_posts


async def test_claims_due_posts_once_in_single_kind_batches(runtime: Runtime) -> None:
    ws, acc = await make_account(
        runtime, provider=Provider.INSTAGRAM, external_id="17841400000000001"
    )
    posts = await track_posts(
        runtime,
        workspace_id=ws,
        account_id=acc,
        provider=Provider.INSTAGRAM,
        external_ids=[str(1000 + i) for i in range(130)],
    )
    async with runtime.sessionmaker() as s, s.begin():
        for i, post in enumerate(posts):
            kind = ("FEED/IMAGE", "REELS/VIDEO")[i % 2] if i < 120 else None
            await s.execute(
                update(ScheduleExternal)
                .where(ScheduleExternal.id == post.external_row_id)
                .values(media_type=kind)
            )
    now = utcnow() + timedelta(seconds=1)
    async with runtime.sessionmaker() as s, s.begin():
        batches = await claim_due_batches(s, now=now, batch_size=50)
    sizes = sorted(len(b.external_row_ids) for b in batches)
    assert sizes == [10, 10, 10, 50, 50]  # 60 images, 60 reels, 10 not yet known
    assert len({b.workflow_id for b in batches}) == len(batches)
    assert sum(sizes) == 130
    # Claimed: the same due time finds nothing more.
    async with runtime.sessionmaker() as s, s.begin():
        assert await claim_due_batches(s, now=now, batch_size=50) == []
