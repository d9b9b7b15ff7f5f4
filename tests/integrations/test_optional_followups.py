"""Optional follow-up requests (paging, the video re-read) never cost the data already received.

Also: time paging of insights is never followed, cursor paging is, paging links (which embed
the access token) are neither stored nor logged, and only ``null`` batch items are re-sent.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from structlog.testing import capture_logs

from app.integrations.errors import TransientError
from app.integrations.graph_paging import cursor_next
from app.integrations.linkedin_insights import LinkedInClientConfig, LinkedInInsightsClient
from app.integrations.meta_insights import MetaInsightsClient
from app.services.insights_mapper import map_meta_to_post_metrics
from tests.integrations.fakes import GRAPH, TOKEN, meta_config

_TIME_PREV = f"{GRAPH}/v25.0/1_1/insights?access_token={TOKEN}&metric=post_media_view&since=1597215600&until=1597388400"  # noqa: E501
_TIME_NEXT = f"{GRAPH}/v25.0/1_1/insights?access_token={TOKEN}&metric=post_media_view&since=1597561200&until=1597734000"  # noqa: E501
_CURSOR_NEXT = f"{GRAPH}/v25.0/1_1/insights?access_token={TOKEN}&after=QVFIU"


def _post(paging: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "1_1",
        "insights": {
            "data": [{"name": "post_media_view", "period": "lifetime", "values": [{"value": 10}],
                      "title": "Lifetime Post Media Views", "description": "",
                      "id": "1_1/insights/post_media_view/lifetime"}],
            "paging": paging,
        },
        "reactions": {"data": [], "summary": {"total_count": 5}},
        "comments": {"data": [], "summary": {"total_count": 2}},
    }  # fmt: skip


def _batch_reply(*bodies: dict[str, Any] | None) -> list[dict[str, Any] | None]:
    return [None if b is None else {"code": 200, "body": json.dumps(b)} for b in bodies]


async def _fetch_one(body: dict[str, Any], page: httpx.Response) -> tuple[Any, respx.Route]:
    with respx.mock(base_url=GRAPH, assert_all_called=False) as mock:
        mock.post("/v25.0/").respond(200, json=_batch_reply(body))
        follow = mock.get("/v25.0/1_1/insights").mock(return_value=page)
        async with MetaInsightsClient(meta_config()) as meta:
            result = (await meta.get_fb_post_insights(TOKEN, ["1_1"]))["1_1"]
    return result, follow


def test_cursor_next_tells_the_two_kinds_of_paging_apart() -> None:
    cursors = {"before": "A", "after": "B"}
    assert cursor_next({"paging": {"cursors": cursors, "next": _CURSOR_NEXT}}) == _CURSOR_NEXT
    # Time paging: no cursors, or a since/until window in the link (whatever else it has).
    assert cursor_next({"paging": {"previous": _TIME_PREV, "next": _TIME_NEXT}}) is None
    assert cursor_next({"paging": {"cursors": cursors, "next": _TIME_NEXT}}) is None
    assert cursor_next({"paging": {"cursors": cursors}}) is None
    assert cursor_next({"data": []}) is None
    assert cursor_next(None) is None


async def test_time_paging_of_lifetime_insights_is_never_followed() -> None:
    body = _post({"previous": _TIME_PREV, "next": _TIME_NEXT})
    result, follow = await _fetch_one(body, httpx.Response(200, json={"data": []}))
    assert follow.call_count == 0
    assert result.ok
    assert result.payload is not None
    assert TOKEN not in json.dumps(result.payload)  # the links are not stored
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=None)
    assert (values.impressions, values.likes, values.comments) == (10, 5, 2)


async def test_failed_cursor_page_keeps_the_first_reply_and_logs_no_url() -> None:
    body = _post({"cursors": {"before": "A", "after": "QVFIU"}, "next": _CURSOR_NEXT})
    error = {"error": {"message": "An unexpected error has occurred.", "code": 2,
                       "type": "OAuthException", "fbtrace_id": "Ax1"}}  # fmt: skip
    with capture_logs() as logs:
        result, follow = await _fetch_one(body, httpx.Response(500, json=error))
    assert follow.call_count >= 1  # followed (cursor paging), failed on every attempt
    assert result.ok
    assert result.payload is not None
    assert "paging" not in result.payload["insights"]
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=None)
    assert (values.impressions, values.likes) == (10, 5)
    failed = [e for e in logs if e["event"] == "insights.paging.failed"]
    assert len(failed) == 1
    assert failed[0]["object_id"] == "1_1"
    assert "QVFIU" not in repr(logs)
    assert TOKEN not in repr(logs)


async def test_failed_video_reread_keeps_the_first_read() -> None:
    body = _post({}) | {"status_type": "added_video"}
    calls = {"n": 0}

    def batch(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(200, json=_batch_reply(body))
        return httpx.Response(500, json={"error": {"message": "Service temporarily "
                                                   "unavailable", "code": 2}})  # fmt: skip

    with respx.mock(base_url=GRAPH) as mock, capture_logs() as logs:
        mock.post("/v25.0/").mock(side_effect=batch)
        async with MetaInsightsClient(meta_config()) as meta:
            result = (await meta.get_fb_post_insights(TOKEN, ["1_1"]))["1_1"]
    assert calls["n"] > 1  # the re-read was tried (and retried) before giving up
    assert result.ok
    assert result.payload is not None
    assert map_meta_to_post_metrics("facebook", result.payload, media_type=None).impressions == 10
    assert any(e["event"] == "insights.video_upgrade.kept_first_read" for e in logs)


async def test_only_null_batch_items_are_sent_again() -> None:
    ids = ["1_1", "1_2", "1_3"]
    sent: list[list[str]] = []

    def batch(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        urls = [item["relative_url"].split("?")[0] for item in json.loads(form["batch"])]
        sent.append(urls)
        bodies = [_post({}) | {"id": u} for u in urls]
        if len(sent) == 1:  # Graph did not get to the second item
            return httpx.Response(200, json=_batch_reply(bodies[0], None, bodies[2]))
        return httpx.Response(200, json=_batch_reply(*bodies))

    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").mock(side_effect=batch)
        async with MetaInsightsClient(meta_config()) as meta:
            results = await meta.get_fb_post_insights(TOKEN, ids)
    assert sent == [ids, ["1_2"]]
    assert all(results[i].ok for i in ids)


async def test_failed_linkedin_page_keeps_the_first_page() -> None:
    stats = "/rest/organizationalEntityShareStatistics"

    def element(urn: str) -> dict[str, Any]:
        return {"share": urn, "organizationalEntity": "urn:li:organization:1",
                "totalShareStatistics": {"impressionCount": 40, "clickCount": 2}}  # fmt: skip

    link = {"rel": "next", "type": "application/json", "href": f"{stats}?page=2"}
    first = {"elements": [element("urn:li:share:1")],
             "paging": {"start": 0, "count": 1, "links": [link]}}  # fmt: skip
    config = LinkedInClientConfig(base_url="https://li.test")
    with respx.mock(base_url="https://li.test") as mock, capture_logs() as logs:
        mock.get(stats, params={"page": "2"}).respond(500, json={"status": 500})
        mock.get(stats).respond(200, json=first)
        async with LinkedInInsightsClient(config) as li:
            results = await li.get_ugc_stats(
                "li-token", "urn:li:organization:1", ["urn:li:share:1", "urn:li:share:2"]
            )
    assert results["urn:li:share:1"].ok
    second = results["urn:li:share:2"]
    assert not second.ok
    assert isinstance(second.error, TransientError)  # its page failed; not "no statistics"
    assert any(e["event"] == "insights.paging.failed" for e in logs)
