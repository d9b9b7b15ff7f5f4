"""LinkedInInsightsClient against respx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
import time_machine

from app.integrations.errors import (
    NoStatisticsError,
    NotFoundError,
    PlatformPermissionError,
    ThrottledError,
    TokenError,
)
from app.integrations.http import RetryPolicy
from app.integrations.linkedin_insights import (
    LinkedInClientConfig,
    LinkedInInsightsClient,
    member_entity,
    restli_list,
)
from app.services.insights_mapper import map_linkedin_to_post_metrics

LI = "https://li.test"
TOKEN = "AQXlinkedintoken0123456789"
ORG = "urn:li:organization:2414183"
STATS = "/rest/organizationalEntityShareStatistics"


def _stats(urn: str, n: int = 1) -> dict[str, Any]:
    key = "ugcPost" if ":ugcPost:" in urn else "share"
    return {
        "organizationalEntity": ORG,
        key: urn,
        "totalShareStatistics": {
            "impressionCount": 100 * n, "uniqueImpressionsCount": 80 * n, "clickCount": 5 * n,
            "likeCount": 7 * n, "commentCount": 2 * n, "shareCount": 1 * n, "engagement": 0.1,
        },
    }  # fmt: skip


def _answer_with_requested(request: httpx.Request) -> httpx.Response:
    query = request.url.query.decode()
    listed = [part.split(")")[0] for part in query.split("List(")[1:]]
    urns = [u.replace("%3A", ":") for group in listed for u in group.split(",")]
    return httpx.Response(200, json={"elements": [_stats(u) for u in urns], "paging": {}})


@pytest.fixture
async def client() -> AsyncIterator[LinkedInInsightsClient]:
    config = LinkedInClientConfig(base_url=LI, api_version="202604")
    async with LinkedInInsightsClient(config) as li:
        yield li


def test_restli_encoding_exact() -> None:
    assert restli_list(["urn:li:share:1", "urn:li:share:2"]) == (
        "List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)"
    )
    assert member_entity("urn:li:ugcPost:9") == "(ugc:urn%3Ali%3AugcPost%3A9)"
    assert member_entity("urn:li:share:9") == "(share:urn%3Ali%3Ashare%3A9)"


async def test_org_stats_split_by_urn_type_with_exact_url(client: LinkedInInsightsClient) -> None:
    urns = ["urn:li:share:1", "urn:li:ugcPost:2", "urn:li:share:3"]
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(side_effect=_answer_with_requested)
        results = await client.get_ugc_stats(TOKEN, ORG, urns)
    assert route.call_count == 1  # both URN lists travel in one request
    sent = [str(call.request.url) for call in route.calls]
    assert sent == [
        f"{LI}{STATS}?q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A2414183"
        "&shares=List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A3)"
        "&ugcPosts=List(urn%3Ali%3AugcPost%3A2)",
    ]
    headers = route.calls[0].request.headers
    assert headers["LinkedIn-Version"] == "202604"
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert list(results) == urns
    assert all(r.ok for r in results.values())
    payload = results["urn:li:ugcPost:2"].payload
    assert payload is not None
    values = map_linkedin_to_post_metrics(payload, kind="organization")
    assert (values.impressions, values.reach, values.clicks, values.likes) == (100, 80, 5, 7)


async def test_org_stats_chunked(client: LinkedInInsightsClient) -> None:
    config = LinkedInClientConfig(base_url=LI, chunk_size=2)
    urns = [f"urn:li:share:{n}" for n in range(5)]
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(side_effect=_answer_with_requested)
        async with LinkedInInsightsClient(config) as li:
            results = await li.get_ugc_stats(TOKEN, ORG, urns)
    assert route.call_count == 3
    assert all(r.ok for r in results.values())


async def test_missing_post_gets_no_statistics_not_blanking_others(
    client: LinkedInInsightsClient,
) -> None:
    with respx.mock(base_url=LI) as mock:
        mock.get(STATS).respond(200, json={"elements": [_stats("urn:li:share:1")]})
        results = await client.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1", "urn:li:share:2"])
    assert results["urn:li:share:1"].ok
    assert isinstance(results["urn:li:share:2"].error, NoStatisticsError)
    assert isinstance(results["urn:li:share:2"].error, NotFoundError)


async def test_rejected_chunk_is_bisected_to_isolate_the_bad_urn(
    client: LinkedInInsightsClient,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "share%3A3" in request.url.query.decode():
            return httpx.Response(400, json={"status": 400, "message": "Invalid share urn"})
        return _answer_with_requested(request)

    urns = [f"urn:li:share:{n}" for n in range(1, 5)]
    with respx.mock(base_url=LI) as mock:
        mock.get(STATS).mock(side_effect=handler)
        results = await client.get_ugc_stats(TOKEN, ORG, urns)
    assert [r.ok for r in results.values()] == [True, True, False, True]


async def test_permission_error_fails_chunk_without_bisecting(
    client: LinkedInInsightsClient,
) -> None:
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).respond(403, json={"status": 403, "message": "Not enough perms"})
        results = await client.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1", "urn:li:share:2"])
    assert route.call_count == 1
    assert all(isinstance(r.error, PlatformPermissionError) for r in results.values())


async def test_401_is_token_error_and_not_retried(client: LinkedInInsightsClient) -> None:
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).respond(401, json={"status": 401, "message": "Expired token"})
        with pytest.raises(TokenError) as info:
            await client.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1"])
    assert route.call_count == 1
    assert TOKEN not in repr(info.value)


async def test_429_with_retry_after_is_retried_then_succeeds(
    client: LinkedInInsightsClient,
) -> None:
    replies = iter([
        httpx.Response(429, headers={"Retry-After": "2"}, json={"status": 429}),
        httpx.Response(200, json={"elements": [_stats("urn:li:share:1")]}),
    ])  # fmt: skip
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(side_effect=lambda _r: next(replies))
        results = await client.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1"])
    assert route.call_count == 2
    assert results["urn:li:share:1"].ok


@time_machine.travel(datetime(2026, 9, 1, 23, 0, tzinfo=UTC), tick=False)
async def test_429_with_long_retry_after_raises_for_parking() -> None:
    config = LinkedInClientConfig(base_url=LI, retry=RetryPolicy(max_retry_after_s=60))
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).respond(429, headers={"Retry-After": "3600"}, json={})
        async with LinkedInInsightsClient(config) as li:
            with pytest.raises(ThrottledError) as info:
                await li.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1"])
    assert route.call_count == 1
    assert info.value.retry_after == datetime(2026, 9, 2, 0, 0, tzinfo=UTC)
    assert info.value.key == ORG


async def test_org_token_error_stops_queued_chunks() -> None:
    config = LinkedInClientConfig(base_url=LI, chunk_size=1, member_concurrency=1)
    urns = [f"urn:li:share:{n}" for n in range(5)]
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).respond(401, json={"status": 401, "message": "Expired token"})
        async with LinkedInInsightsClient(config) as li:
            with pytest.raises(TokenError):
                await li.get_ugc_stats(TOKEN, ORG, urns)
            await asyncio.sleep(0.05)  # give any straggling chunk the chance to send
    assert route.call_count == 1  # the four queued chunks never sent a request


async def test_org_stats_follow_next_page(client: LinkedInInsightsClient) -> None:
    first = {"elements": [_stats("urn:li:share:1")],
             "paging": {"links": [{"rel": "next", "href": f"{STATS}?page=2"}]}}  # fmt: skip
    with respx.mock(base_url=LI) as mock:
        mock.get(STATS, params={"page": "2"}).respond(
            200, json={"elements": [_stats("urn:li:share:2")]}
        )
        mock.get(STATS).respond(200, json=first)
        results = await client.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1", "urn:li:share:2"])
    assert all(r.ok for r in results.values())


async def test_member_stats_combine_five_calls(client: LinkedInInsightsClient) -> None:
    counts = {"IMPRESSION": 5000, "MEMBERS_REACHED": 3500, "REACTION": 89, "COMMENT": 12,
              "RESHARE": 7}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        metric = request.url.params["queryType"]
        # Older versions wrap metricType in an object; newer ones send a string.
        metric_type: Any = metric if metric != "COMMENT" else {
            "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1":
            metric}  # fmt: skip
        element = {"count": counts[metric], "metricType": metric_type}
        return httpx.Response(200, json={"elements": [element], "paging": {"count": 10}})

    with respx.mock(base_url=LI) as mock:
        route = mock.get("/rest/memberCreatorPostAnalytics").mock(side_effect=handler)
        results = await client.get_member_post_stats(TOKEN, ["urn:li:share:1"])
    assert route.call_count == 5
    queries = sorted(call.request.url.query.decode() for call in route.calls)
    assert queries[0] == (
        "q=entity&entity=(share:urn%3Ali%3Ashare%3A1)&queryType=COMMENT&aggregation=TOTAL"
    )
    payload = results["urn:li:share:1"].payload
    assert payload is not None
    assert payload["metrics"] == counts
    values = map_linkedin_to_post_metrics(payload, kind="member")
    assert (values.impressions, values.reach, values.likes, values.comments, values.shares) == (
        5000, 3500, 89, 12, 7)  # fmt: skip
    assert values.clicks is None
    assert values.saves is None


async def test_member_stats_partial_failure_keeps_other_metrics(
    client: LinkedInInsightsClient,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["queryType"] == "RESHARE":
            return httpx.Response(404, json={"status": 404, "message": "not found"})
        if request.url.params["queryType"] == "COMMENT":
            return httpx.Response(200, json={"elements": []})
        return httpx.Response(200, json={"elements": [{"count": 3}]})

    with respx.mock(base_url=LI) as mock:
        mock.get("/rest/memberCreatorPostAnalytics").mock(side_effect=handler)
        results = await client.get_member_post_stats(TOKEN, ["urn:li:ugcPost:5"])
    payload = results["urn:li:ugcPost:5"].payload
    assert payload is not None
    assert payload["errors"]["RESHARE"]["kind"] == "not_found"
    values = map_linkedin_to_post_metrics(payload, kind="member")
    assert values.shares is None
    assert values.comments is None
    assert values.impressions == 3


async def test_member_token_error_raises_once() -> None:
    config = LinkedInClientConfig(base_url=LI, member_concurrency=1)
    with respx.mock(base_url=LI) as mock:
        route = mock.get("/rest/memberCreatorPostAnalytics").respond(401, json={})
        async with LinkedInInsightsClient(config) as li:
            with pytest.raises(TokenError):
                await li.get_member_post_stats(TOKEN, ["urn:li:share:1", "urn:li:share:2"])
    assert route.call_count == 1  # siblings were cancelled, no retry storm


async def test_post_details_and_social_metadata(client: LinkedInInsightsClient) -> None:
    post = {"id": "urn:li:share:1", "author": ORG, "createdAt": 1760000000000,
            "lifecycleState": "PUBLISHED",
            "content": {"media": {"id": "urn:li:video:C4D"}}}  # fmt: skip
    meta = {"reactionSummaries": {"LIKE": {"reactionType": "LIKE", "count": 3}},
            "commentSummary": {"count": 2, "topLevelCount": 2}}  # fmt: skip
    with respx.mock(base_url=LI) as mock:
        p = mock.get("/rest/posts/urn%3Ali%3Ashare%3A1").respond(200, json=post)
        s = mock.get("/rest/socialMetadata/urn%3Ali%3Ashare%3A1").respond(200, json=meta)
        result = await client.get_ugc_post_details(TOKEN, "urn:li:share:1")
    assert p.call_count == 1
    assert s.call_count == 1
    assert result.ok
    assert result.media_type == "VIDEO"
    assert result.payload == {"post": post, "socialMetadata": meta}


async def test_post_details_not_found(client: LinkedInInsightsClient) -> None:
    with respx.mock(base_url=LI) as mock:
        mock.get("/rest/posts/urn%3Ali%3Ashare%3A9").respond(404, json={"status": 404})
        result = await client.get_ugc_post_details(TOKEN, "urn:li:share:9")
    assert isinstance(result.error, NotFoundError)


async def test_connect_error_is_transient_and_scrubbed() -> None:
    config = LinkedInClientConfig(base_url=LI, retry=RetryPolicy(attempts=2))
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(side_effect=httpx.ConnectError(f"Bearer {TOKEN} refused"))
        async with LinkedInInsightsClient(config) as li:
            results = await li.get_ugc_stats(TOKEN, ORG, ["urn:li:share:1"])
    error = results["urn:li:share:1"].error
    assert route.call_count == 2
    assert error is not None
    assert error.transient
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
