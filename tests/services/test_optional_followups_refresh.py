"""Through the refresher: a transient failure (HTTP 500, Graph code 2) of an optional follow-up
request — a cursor page of insights, the re-read of video posts — leaves every post with its
snapshot from the first reply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.models import PostMetrics
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from app.services.insights_store import values_of
from app.services.platform_clients import build_platform_clients
from tests.sandbox_harness import build_world

pytestmark = pytest.mark.sandbox

_CODE_2 = {"error": {"message": "An unexpected error has occurred. Please retry your request "
                     "later.", "type": "OAuthException", "is_transient": True, "code": 2,
                     "fbtrace_id": "AkX0sandbox"}}  # fmt: skip


class FollowUpsFail(httpx.AsyncBaseTransport):
    """The sandbox, except that every optional follow-up fails with HTTP 500 / code 2.

    First reads pass through, with cursor paging added to their insights (so the client has a
    cursor page to follow); follow-up pages and the video re-read batch get the error.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failed: dict[str, int] = {"page": 0, "video_reread": 0}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (
            request.method == "GET"
            and path.endswith("/insights")
            and b"after=" in (request.url.query)
        ):
            self.failed["page"] += 1
            return httpx.Response(500, json=_CODE_2)
        if request.method == "POST" and path.rstrip("/").count("/") == 1:
            await request.aread()
            if b"post_video_views" in request.content:  # only the video re-read asks for it
                self.failed["video_reread"] += 1
                return httpx.Response(500, json=_CODE_2)
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return httpx.Response(200, json=_with_cursor_paging(json.loads(response.content)))
        return await self.inner.handle_async_request(request)


def _with_cursor_paging(items: list[Any]) -> list[Any]:
    out = []
    for item in items:
        if isinstance(item, dict) and item.get("code") == 200:
            body = json.loads(item["body"])
            insights = body.get("insights")
            if isinstance(insights, dict):
                pid = body.get("id", "")
                insights["paging"] = {
                    "cursors": {"before": "QVFIUjBF", "after": "QVFIUkxE"},
                    "next": f"https://graph.facebook.com/v25.0/{pid}/insights?after=QVFIUkxE",
                }
            item = item | {"body": json.dumps(body)}
        out.append(item)
    return out


@pytest.fixture
async def failing(
    runtime: Runtime, sandbox_transport: httpx.ASGITransport
) -> AsyncIterator[tuple[InsightsRefresher, FollowUpsFail]]:
    transport = FollowUpsFail(sandbox_transport)
    clients = build_platform_clients(runtime.settings, transport=transport)
    yield InsightsRefresher(runtime, clients), transport
    await clients.aclose()


async def test_failed_follow_ups_leave_every_post_its_snapshot(
    runtime: Runtime,
    ctl: SandboxControl,
    demo: dict[str, Any],
    failing: tuple[InsightsRefresher, FollowUpsFail],
) -> None:
    refresher, transport = failing
    world = await build_world(runtime, ctl, demo, {"fb": 40, "ig": 20})
    for key in ("fb", "ig"):
        report = await refresher.refresh(world.rows[key])
        assert report.count("fetched") == len(world.rows[key]), [
            o for o in report.outcomes if o.status != "fetched"
        ][:3]
    assert transport.failed["page"] >= 60  # each post's cursor page was tried, and failed
    assert transport.failed["video_reread"] >= 1  # the video posts' re-read failed too
    async with runtime.sessionmaker() as s:
        rows = list(await s.scalars(select(PostMetrics)))
        count = await s.scalar(select(func.count()).select_from(PostMetrics))
    assert count == 60
    assert all(values_of(row).impressions is not None for row in rows)
    assert all("paging" not in json.dumps(row.raw) for row in rows)
