"""Issue 9's "done when", end to end: the sandbox as a separate process, accounts and a
schedule created through the API, the engine and the poller running (in-process DBOS, as
`postmeter serve` runs them on SQLite) -> the post is published to a Facebook page, an
Instagram account and a LinkedIn organization at its time, exactly once each on the platform's
side, tracked in `schedule_external`, and its metrics fetched within a minute."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.models import PostMetrics, ScheduleExternal
from app.sandbox.client import SandboxControl
from tests.conftest import Tenant, make_tenant
from workers import background

pytestmark = pytest.mark.slow
FINAL = {"posted", "failed", "unknown"}


async def connect_demo_accounts(
    api: httpx.AsyncClient, tenant: Tenant, demo: dict[str, Any]
) -> dict[str, str]:
    """The demo Page, its Instagram account and the LinkedIn organization, through the API."""
    accounts = {
        "facebook": (demo["page_id"], demo["page_token"]),
        "instagram": (demo["ig_user_id"], demo["page_token"]),
        "linkedin": (demo["org_urn"], demo["org_admin_token"]),
    }
    ids = {}
    for provider, (external_id, token) in accounts.items():
        r = await api.post(
            "/api/v1/accounts",
            headers=tenant.headers,
            json={
                "provider": provider,
                "external_id": external_id,
                "name": f"demo {provider}",
                "access_token": token,
            },
        )
        assert r.status_code == 201, r.text
        ids[provider] = r.json()["id"]
    return ids


async def wait_for(check: Any, timeout: float, what: str) -> Any:
    """Poll the async `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


async def test_scheduled_post_is_published_to_all_three_then_measured(
    runtime: Runtime, api: httpx.AsyncClient, sandbox_ctl: SandboxControl
) -> None:
    ctl = sandbox_ctl
    demo = (await ctl.world())["demo"]
    tenant = await make_tenant(runtime)
    account_ids = await connect_demo_accounts(api, tenant, demo)
    tag = uuid.uuid4().hex[:8]  # LinkedIn escapes brackets in commentary: a plain marker
    await background.start_background(runtime, role="e2e")
    try:
        publish_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        r = await api.post(
            "/api/v1/schedules",
            headers=tenant.headers,
            json={
                "content": {
                    "text": f"Launch day (e2e-{tag})",
                    "media_urls": [ctl.media_url("launch.jpg")],
                },
                "publish_at": publish_at.isoformat(),
                "account_ids": list(account_ids.values()),
            },
        )
        assert r.status_code == 201, r.text
        schedule_id = uuid.UUID(r.json()["id"])
        assert r.json()["status"] == "scheduled"

        async def settled() -> dict[str, Any] | None:
            got = await api.get(f"/api/v1/schedules/{schedule_id}", headers=tenant.headers)
            body: dict[str, Any] = got.json()
            return body if all(t["state"] in FINAL for t in body["targets"]) else None

        body = await wait_for(settled, 60, "all three targets settled")
        assert body["status"] == "posted", body
        assert {t["provider"] for t in body["targets"]} == {"facebook", "instagram", "linkedin"}
        assert all(t["state"] == "posted" and t["external_id"] for t in body["targets"]), body

        # On the platform's side: exactly one post per target, created at its time.
        published = await ctl.published(marker=rf"e2e-{tag}")
        per_platform = {t["platform"]: t["count"] for t in published["targets"]}
        assert per_platform == {"facebook": 1, "instagram": 1, "linkedin": 1}, published
        assert published["duplicates"] == 0
        for post in published["posts"]:
            created = datetime.fromtimestamp(post["created_at"], UTC)
            assert (
                publish_at - timedelta(seconds=1) <= created <= publish_at + timedelta(seconds=20)
            ), (post, publish_at)
        external_ids = {t["external_id"] for t in body["targets"]}
        assert external_ids == {p["post_id"] for p in published["posts"]}

        # Tracked from that moment: schedule_external rows, then snapshots within a minute.
        async with runtime.sessionmaker() as s:
            rows = (
                await s.scalars(
                    select(ScheduleExternal).where(ScheduleExternal.schedule_id == schedule_id)
                )
            ).all()
        assert {row.external_id for row in rows} == external_ids

        async def measured() -> bool:
            async with runtime.sessionmaker() as s:
                n = await s.scalar(
                    select(func.count(func.distinct(PostMetrics.provider))).where(
                        PostMetrics.schedule_id == schedule_id
                    )
                )
            return n == 3

        await wait_for(measured, 60, "metrics of all three posts")
        got = await api.get(f"/api/v1/insights/metrics/{schedule_id}", headers=tenant.headers)
        assert got.status_code == 200, got.text
    finally:
        await background.stop_background()
