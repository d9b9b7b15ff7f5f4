"""FEATURE_FAKE_INSIGHTS: labelled fake rows for development, never standing in for real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.core.runtime import Runtime
from app.models import ErrorKind, MetricsSource, PostMetrics
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from tests.sandbox_harness import build_world, sandbox_settings

pytestmark = pytest.mark.sandbox


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Any:
    return sandbox_settings(tmp_path, database_url, FEATURE_FAKE_INSIGHTS=True)


async def test_fake_metrics_are_labelled_and_never_replace_real(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 3})
    calls = dict(refresher.clients.http_calls)
    report = await refresher.refresh(world.rows["fb"])
    assert report.count("fetched") == 3
    assert refresher.clients.http_calls == calls  # no platform call in fake mode
    async with runtime.sessionmaker() as s:
        rows = list(await s.scalars(select(PostMetrics)))
        assert {r.source for r in rows} == {MetricsSource.FAKE}
        # A post with real data is never given fake numbers.
        await s.execute(
            update(PostMetrics)
            .where(PostMetrics.schedule_id == world.schedules["fb"][0])
            .values(source=MetricsSource.META)
        )
        await s.commit()
    report = await refresher.refresh(world.rows["fb"])
    kinds = [o.error_kind for o in report.outcomes]
    assert kinds.count(ErrorKind.REAL_DATA_EXISTS) == 1


async def test_fetch_now_says_fake(
    runtime: Runtime, api: Any, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 1})
    headers = await world.owner_headers(runtime)
    sid = world.schedules["fb"][0]
    r = await api.post(f"/api/v1/insights/fetch/{sid}", headers=headers)
    assert [(x["status"], x["source"]) for x in r.json()["results"]] == [("fetched", "fake")]
    m = (await api.get(f"/api/v1/insights/metrics/{sid}", headers=headers)).json()
    assert m["metrics"][0]["source"] == "fake"
    assert m["totals"]["includes_fake"] is True
