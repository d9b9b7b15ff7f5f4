"""The refresh path end to end against the sandbox: fetch, map, upsert, recompute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.core.runtime import Runtime
from app.models import (
    AccountStatus,
    ExternalStatus,
    PostMetrics,
    ScheduleExternal,
    ScheduleMetrics,
    SocialAccount,
)
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from app.services.insights_store import values_of
from tests.sandbox_harness import build_world

pytestmark = pytest.mark.sandbox


async def _count(runtime: Runtime, model: Any = PostMetrics) -> int:
    async with runtime.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _requests(ctl: SandboxControl) -> int:
    return int((await ctl.counters())["requests"])


async def test_refresh_all_platforms_batched(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    counts = {"fb": 120, "ig": 60, "li_org": 100, "li_member": 3}
    world = await build_world(runtime, ctl, demo, counts)
    calls = refresher.clients.http_calls
    per_key_calls = {}
    for key in ("fb", "ig", "li_org"):
        before = calls["meta"] + calls["linkedin"]
        report = await refresher.refresh(world.rows[key])
        per_key_calls[key] = calls["meta"] + calls["linkedin"] - before
        assert report.count("fetched") == counts[key], [
            o for o in report.outcomes if o.status != "fetched"
        ][:3]
    report = await refresher.refresh(world.rows["li_member"])
    assert report.count("fetched") == 3
    before = calls["meta"]
    await refresher.refresh(world.rows["ig"])
    assert calls["meta"] - before == 3  # media types are cached now
    before = calls["meta"]
    await refresher.refresh(world.rows["fb"])
    assert calls["meta"] - before == 3  # ~90 posts (2 calls) + ~30 videos (1 call)
    assert await _count(runtime) == sum(counts.values())
    assert await _count(runtime, ScheduleMetrics) == sum(counts.values())
    # Many posts per HTTP call: Graph batches of 50, LinkedIn URN lists.
    # 50 + 50 + 20, plus one call re-reading the videos found by their status_type.
    assert per_key_calls["fb"] == 4
    # First poll learns media types (2 calls), then one insights call per media kind (3).
    assert per_key_calls["ig"] == 5
    assert per_key_calls["li_org"] == 2  # 50 share URNs per call
    async with runtime.sessionmaker() as s:
        rows = list(await s.scalars(select(PostMetrics)))
    for row in rows:
        values = values_of(row)
        assert values.impressions is not None
        assert row.raw is not None
        if values.reach is not None:
            assert values.reach <= values.impressions
    ig_images = [
        values_of(r)
        for r in rows
        if r.provider.value == "instagram" and "IMAGE" in (r.media_type or "")
    ]
    assert ig_images
    assert all(v.video_views is None and v.clicks is None for v in ig_images)


async def test_refetch_same_bucket_updates_and_grows(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 5})
    await refresher.refresh(world.rows["fb"])
    async with runtime.sessionmaker() as s:
        first = {
            r.schedule_id: values_of(r).impressions for r in await s.scalars(select(PostMetrics))
        }
    await ctl.advance_clock(3 * 3600)
    await refresher.refresh(world.rows["fb"])
    async with runtime.sessionmaker() as s:
        second = {
            r.schedule_id: values_of(r).impressions for r in await s.scalars(select(PostMetrics))
        }
    assert len(second) == 5
    assert await _count(runtime) == 5
    assert all((second[k] or 0) >= (first[k] or 0) for k in first)


async def test_deleted_post_and_expired_token(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 4, "li_org": 3})
    await ctl.delete_post(world.external_ids["fb"][0])
    # Graph says "does not exist" for missing permissions too: deleted after 3 answers in a row.
    for expected in ("not_found", "not_found", "deleted"):
        report = await refresher.refresh(world.rows["fb"])
        kinds = {o.external_row_id: (o.status, o.error_kind) for o in report.outcomes}
        assert kinds[world.rows["fb"][0]] == ("error", expected)
        assert sum(1 for v in kinds.values() if v == ("fetched", None)) == 3
    # The answer promises no retry for a post taken as deleted (it is not polled again).
    outcome = next(o for o in report.outcomes if o.external_row_id == world.rows["fb"][0])
    assert outcome.retry_at is None
    async with runtime.sessionmaker() as s:
        deleted = await s.get(ScheduleExternal, world.rows["fb"][0])
        assert deleted is not None
        assert deleted.status == ExternalStatus.DELETED
        assert deleted.next_fetch_at is None

    await ctl.expire_token(demo["org_admin_token"])
    before = await _requests(ctl)
    report = await refresher.refresh(world.rows["li_org"])
    assert {o.error_kind for o in report.outcomes} == {"reconnect_required"}
    assert (await _requests(ctl)) - before == 1  # no retry storm
    async with runtime.sessionmaker() as s:
        account = await s.get(SocialAccount, world.accounts["li_org"])
        assert account is not None
        assert account.status == AccountStatus.RECONNECT_REQUIRED
    before = await _requests(ctl)
    report = await refresher.refresh(world.rows["li_org"])
    assert {o.error_kind for o in report.outcomes} == {"reconnect_required"}
    assert await _requests(ctl) == before  # skipped without calling the platform


async def test_reconnect_and_reenable_resume_polling(
    runtime: Runtime,
    refresher: InsightsRefresher,
    ctl: SandboxControl,
    demo: dict[str, Any],
    api: httpx.AsyncClient,
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 2})
    headers = await world.owner_headers(runtime)
    account = world.accounts["fb"]
    r = await api.patch(f"/api/v1/accounts/{account}", json={"status": "disabled"}, headers=headers)
    assert r.json()["status"] == "disabled"
    report = await refresher.refresh(world.rows["fb"])
    assert {o.error_kind for o in report.outcomes} == {"account_disconnected"}
    async with runtime.sessionmaker() as s:
        assert set(await s.scalars(select(ScheduleExternal.next_fetch_at))) == {None}
    r = await api.patch(f"/api/v1/accounts/{account}", json={"status": "active"}, headers=headers)
    assert r.json()["status"] == "active"
    async with runtime.sessionmaker() as s:
        rows = list(await s.scalars(select(ScheduleExternal)))
    assert all(r.next_fetch_at is not None and r.last_error_kind is None for r in rows)
    # After a token error, reconnecting with a new token makes the posts due at once too.
    await ctl.expire_token(demo["page_token"])
    await refresher.refresh(world.rows["fb"])
    page = await ctl.create_page(name="again", app_id=demo["meta_app_id"])
    r = await api.patch(
        f"/api/v1/accounts/{account}",
        json={"access_token": page["user_access_token"]},
        headers=headers,
    )
    assert r.json()["status"] == "active"
    async with runtime.sessionmaker() as s:
        rows = list(await s.scalars(select(ScheduleExternal)))
    assert all(r.last_error_kind is None and r.consecutive_failures == 0 for r in rows)
    assert all(r.next_fetch_at is not None and r.next_fetch_at <= utcnow() for r in rows)


async def test_batch_skips_posts_its_claim_no_longer_holds(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 3})
    lease = utcnow() + timedelta(minutes=30)
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(update(ScheduleExternal).values(next_fetch_at=lease))
        # One post was fetched meanwhile (its next time moved on).
        await s.execute(
            update(ScheduleExternal)
            .where(ScheduleExternal.id == world.rows["fb"][0])
            .values(next_fetch_at=lease + timedelta(hours=6))
        )
    report = await refresher.refresh(world.rows["fb"], claimed_until=lease)
    assert {o.external_row_id for o in report.outcomes} == set(world.rows["fb"][1:])
