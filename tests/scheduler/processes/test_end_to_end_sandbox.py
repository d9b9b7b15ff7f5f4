"""Issue 9's "done when", end to end: the sandbox as a separate process, accounts and a
schedule created through the API, the engine and the poller running (in-process DBOS, as
`postmeter serve` runs them on SQLite) -> the post is published to a Facebook page, an
Instagram account and a LinkedIn organization at its time, exactly once each on the platform's
side, tracked in `schedule_external`, and its metrics fetched within a minute."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.models import PostMetrics, ScheduleExternal
from app.sandbox.client import SandboxControl
from tests.conftest import make_tenant
from tests.scheduler.processes.helpers import (
    connect_demo_accounts,
    create_schedule,
    schedule_if_settled,
    wait_for,
)
from workers import background

pytestmark = pytest.mark.slow


async def test_scheduled_post_is_published_to_all_three_then_measured(
    runtime: Runtime, api: httpx.AsyncClient, sandbox_ctl: SandboxControl
) -> None:
    ctl = sandbox_ctl
    tenant = await make_tenant(runtime)
    account_ids = await connect_demo_accounts(api, tenant, (await ctl.world())["demo"])
    tag = f"e2e-{uuid.uuid4().hex[:8]}"  # LinkedIn escapes brackets in commentary: plain text
    await background.start_background(runtime, role="e2e")
    try:
        publish_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        schedule_id = await create_schedule(
            api,
            tenant,
            text=f"Launch day ({tag})",
            media_url=ctl.media_url("launch.jpg"),
            publish_at=publish_at,
            account_ids=list(account_ids.values()),
        )
        body = await wait_for(
            lambda: schedule_if_settled(api, tenant, schedule_id), 60, "targets settled"
        )
        assert body["status"] == "posted", body
        assert {t["provider"] for t in body["targets"]} == {"facebook", "instagram", "linkedin"}
        assert all(t["state"] == "posted" and t["external_id"] for t in body["targets"]), body

        # On the platform's side: exactly one post per target, created at its time.
        published = await ctl.published(marker=tag)
        per_platform = {t["platform"]: t["count"] for t in published["targets"]}
        assert per_platform == {"facebook": 1, "instagram": 1, "linkedin": 1}, published
        assert published["duplicates"] == 0
        for post in published["posts"]:
            created = datetime.fromtimestamp(post["created_at"], UTC)
            early, late = publish_at - timedelta(seconds=1), publish_at + timedelta(seconds=20)
            assert early <= created <= late, (post, publish_at)
        external_ids = {t["external_id"] for t in body["targets"]}
        assert external_ids == {p["post_id"] for p in published["posts"]}

        # Tracked from that moment: schedule_external rows, then snapshots within a minute.
        async with runtime.sessionmaker() as s:
            tracked = await s.scalars(
                select(ScheduleExternal.external_id).where(
                    ScheduleExternal.schedule_id == schedule_id
                )
            )
            assert set(tracked) == external_ids

        async def measured() -> bool:
            async with runtime.sessionmaker() as s:
                providers = await s.scalar(
                    select(func.count(func.distinct(PostMetrics.provider))).where(
                        PostMetrics.schedule_id == schedule_id
                    )
                )
            return providers == 3

        await wait_for(measured, 60, "metrics of all three posts")
        got = await api.get(f"/api/v1/insights/metrics/{schedule_id}", headers=tenant.headers)
        assert got.status_code == 200, got.text
    finally:
        await background.stop_background()
