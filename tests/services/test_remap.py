"""Old metric names from users' env files still work; remapping history from raw payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.core.runtime import Runtime, build_runtime
from app.models import PostMetrics
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from app.services.insights_store import values_of
from app.services.platform_clients import build_platform_clients
from app.services.remap import remap_history
from tests.sandbox_harness import build_world, sandbox_settings

pytestmark = pytest.mark.sandbox

LEGACY = {
    "META_INSIGHTS_FIELDS_FB": "impressions,post_impressions_unique,likes,comments,shares,clicks",
    "IG_INSIGHTS_METRICS": "impressions,reach,likes,comments,saves,video_views",
    "LINKEDIN_STATS_FIELDS": "impressionCount,likeCount,commentCount,shareCount",
}


async def test_legacy_metric_names_still_yield_complete_metrics(
    database_url: str,
    tmp_path: Path,
    sandbox_transport: httpx.ASGITransport,
    ctl: SandboxControl,
    demo: dict[str, Any],
) -> None:
    runtime = build_runtime(sandbox_settings(tmp_path, database_url, **LEGACY))
    if not runtime.settings.is_sqlite:
        from tests.conftest import _truncate_pg

        await _truncate_pg(runtime)
    clients = build_platform_clients(runtime.settings, transport=sandbox_transport)
    try:
        refresher = InsightsRefresher(runtime, clients)
        world = await build_world(runtime, ctl, demo, {"fb": 20, "ig": 20, "li_org": 20})
        for key in ("fb", "ig", "li_org"):
            report = await refresher.refresh(world.rows[key])
            assert report.count("fetched") == 20, key
        # Nothing retired was ever sent: the platform rejected no metric.
        assert "100" not in (await ctl.counters())["errors_by_code"]
        async with runtime.sessionmaker() as s:
            rows = list(await s.scalars(select(PostMetrics)))
        fb = [values_of(r) for r in rows if r.provider.value == "facebook"]
        ig = [values_of(r) for r in rows if r.provider.value == "instagram"]
        li = [values_of(r) for r in rows if r.provider.value == "linkedin"]
        for r in fb:
            assert None not in (r.impressions, r.reach, r.likes, r.comments, r.shares, r.clicks)
        for r in ig:
            assert None not in (r.impressions, r.reach, r.likes, r.comments, r.saves)
        for r in li:
            assert None not in (r.impressions, r.likes, r.comments, r.shares)
    finally:
        await clients.aclose()
        await runtime.aclose()


async def test_remap_applies_mapping_to_history(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 3, "li_org": 2})
    await refresher.refresh(world.rows["fb"] + world.rows["li_org"])
    async with runtime.sessionmaker() as s, s.begin():
        before = {r.id: values_of(r) for r in await s.scalars(select(PostMetrics))}
        # Simulate an old, wrong mapping having written these rows.
        await s.execute(update(PostMetrics).values(impressions=1, likes=None))
    report = await remap_history(runtime.sessionmaker)
    assert (report.scanned, report.changed) == (5, 5)
    async with runtime.sessionmaker() as s:
        after = {r.id: values_of(r) for r in await s.scalars(select(PostMetrics))}
    assert after == before
