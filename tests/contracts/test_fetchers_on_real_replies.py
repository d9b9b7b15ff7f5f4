"""The real fetchers and mapper over replies the platforms really send (respx transport).

Batch replies are assembled from fixture bodies: Graph answers a batch sub-request with the
same body it gives the plain request, as a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
import stamina

from app.core.clock import utcnow
from app.core.error_kinds import ErrorKind
from app.integrations.errors import (
    ApiVersionError,
    InvalidMetricError,
    NotFoundError,
    PlatformPermissionError,
    ThrottledError,
    TokenError,
)
from app.integrations.linkedin_insights import LinkedInClientConfig, LinkedInInsightsClient
from app.integrations.meta_insights import MetaInsightsClient
from app.integrations.platforms.meta_errors import classify_graph_error
from app.integrations.types import PostFetchResult
from app.services.insights_mapper import map_linkedin_to_post_metrics, map_meta_to_post_metrics
from tests.contracts.platform_replies import TOKEN_MARKER, load
from tests.integrations.fakes import GRAPH, TOKEN, meta_config

LI = "https://li.test"
STATS = "/rest/organizationalEntityShareStatistics"
MEMBER = "/rest/memberCreatorPostAnalytics"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=2):
        yield


def _item(body: Any, code: int = 200) -> dict[str, Any]:
    return {"code": code, "headers": [], "body": json.dumps(body)}


def _post_body(counts: str, insights: str) -> dict[str, Any]:
    """A post read with field expansion: the counts reply plus the insights reply as a field."""
    body: dict[str, Any] = load(counts).copy_body()
    return body | {"insights": load(insights).copy_body()}


async def _fb(body: dict[str, Any], post_id: str, **kwargs: Any) -> tuple[PostFetchResult, int]:
    with respx.mock(base_url=GRAPH, assert_all_called=False) as mock:
        mock.post("/v25.0/").respond(200, json=[_item(body)])
        follow = mock.get(url__regex=r".*/insights.*").respond(200, json={"data": []})
        async with MetaInsightsClient(meta_config()) as meta:
            result = (await meta.get_fb_post_insights(TOKEN, [post_id], **kwargs))[post_id]
    return result, follow.call_count


async def test_facebook_post_lifetime_insights_with_time_paging() -> None:
    body = _post_body("facebook/post_counts", "facebook/post_insights_lifetime")
    result, followed = await _fb(body, body["id"])
    assert followed == 0  # time paging of lifetime insights is never followed
    assert result.ok
    assert result.payload is not None
    assert TOKEN_MARKER not in json.dumps(result.payload)  # paging links are not stored
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=result.media_type)
    assert (values.impressions, values.reach, values.clicks) == (1840, 1210, 64)
    assert (values.likes, values.comments, values.shares) == (47, 9, 3)


async def test_facebook_capture_with_time_paging_is_not_followed() -> None:
    capture = load("facebook/post_insights_time_paging_capture").copy_body()
    body = (
        load("facebook/post_counts").copy_body()
        | {"id": capture["id"]}
        | {"insights": capture["insights"]}
    )
    result, followed = await _fb(body, capture["id"])
    assert followed == 0
    assert result.ok
    assert result.payload is not None
    assert TOKEN_MARKER not in json.dumps(result.payload)
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=result.media_type)
    assert values.clicks == 0
    assert values.likes == 47


async def test_facebook_video_insights() -> None:
    capture = load("facebook/video_insights_capture").copy_body()
    counts = load("facebook/post_counts").copy_body()
    video = capture["id"]
    body = {key: counts[key] for key in ("reactions", "comments")} | capture
    result, followed = await _fb(body, video, media_types={video: "video"})
    assert followed == 0
    assert result.ok
    assert result.payload is not None
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=result.media_type)
    assert values.video_views == 1
    assert (values.likes, values.comments) == (47, 9)


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ("feed", {"impressions": 980, "reach": 610, "likes": 52, "comments": 7, "saves": 11,
                  "shares": 3}),
        ("reels", {"impressions": 15400, "reach": 9800, "likes": 402, "saves": 77,
                   "video_views": 15400}),
        ("story", {"impressions": 420, "reach": 388, "shares": 1}),
    ],
)  # fmt: skip
async def test_instagram_media_insights_per_product_type(
    product: str, expected: dict[str, int | None]
) -> None:
    node = load(f"instagram/media_node_{product}").copy_body()
    body = node | {"insights": load(f"instagram/media_insights_{product}").copy_body()}
    media_type = f"{node['media_product_type']}/{node['media_type']}"
    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").respond(200, json=[_item(body)])
        async with MetaInsightsClient(meta_config()) as meta:
            results = await meta.get_ig_media_insights(
                TOKEN, [node["id"]], media_types={node["id"]: media_type}
            )
    result = results[node["id"]]
    assert result.ok, result.error
    assert result.payload is not None
    values = map_meta_to_post_metrics("instagram", result.payload, media_type=result.media_type)
    assert {name: getattr(values, name) for name in expected} == expected


async def test_batch_with_a_failed_item_and_a_null_item() -> None:
    fixture = load("graph/batch_partial")
    ok, failed, unrun = "122110000000000001_122110000000000777", "122110000000000001_999", "1_3"
    sent: list[list[str]] = []

    def batch(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        sent.append([item["relative_url"].split("?")[0] for item in json.loads(form["batch"])])
        if len(sent) == 1:
            return fixture.response()
        reply = json.loads(fixture.body[0]["body"]) | {"id": unrun}
        return httpx.Response(200, json=[_item(reply)])

    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").mock(side_effect=batch)
        async with MetaInsightsClient(meta_config()) as meta:
            results = await meta.get_fb_post_insights(TOKEN, [ok, failed, unrun])
    assert sent == [[ok, failed, unrun], [unrun]]  # only the null item is sent again
    assert results[ok].ok
    assert isinstance(results[failed].error, NotFoundError)
    assert results[unrun].ok


def test_invalid_metric_classification() -> None:
    fixture = load("graph/error_100_invalid_metric")
    error = classify_graph_error(fixture.status, fixture.copy_body(), provider="facebook")
    assert isinstance(error, InvalidMetricError)


@pytest.mark.parametrize(
    ("name", "subcode"),
    [("error_190_460_password_changed", 460), ("error_190_463_expired", 463),
     ("error_190_467_logged_out", 467)],
)  # fmt: skip
async def test_token_errors_stop_the_account(name: str, subcode: int) -> None:
    fixture = load(f"graph/{name}")
    with respx.mock(base_url=GRAPH) as mock:
        route = mock.post("/v25.0/").mock(return_value=fixture.response())
        async with MetaInsightsClient(meta_config()) as meta:
            with pytest.raises(TokenError) as caught:
                await meta.get_fb_post_insights(TOKEN, ["1_1", "1_2"])
    assert route.call_count == 1  # never retried
    assert (caught.value.code, caught.value.subcode) == (190, subcode)


@pytest.mark.parametrize(
    ("name", "code", "regain_minutes"),
    [("error_4_app_limit", 4, None), ("error_17_user_limit", 17, None),
     ("error_32_page_limit", 32, 12), ("error_80001_pages_buc", 80001, 12)],
)  # fmt: skip
async def test_throttling_errors_with_usage_headers(
    name: str, code: int, regain_minutes: int | None
) -> None:
    fixture = load(f"graph/{name}")
    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").mock(return_value=fixture.response())
        async with MetaInsightsClient(meta_config()) as meta:
            results = await meta.get_fb_post_insights(
                TOKEN, ["122110000000000001_1"], page_id="122110000000000001"
            )
    error = results["122110000000000001_1"].error
    assert isinstance(error, ThrottledError)
    assert error.code == code
    if regain_minutes is not None:
        assert error.retry_after is not None
        expected = utcnow() + timedelta(minutes=regain_minutes)
        assert abs((error.retry_after - expected).total_seconds()) < 60


async def test_linkedin_share_statistics() -> None:
    fixture = load("linkedin/share_statistics_lifetime")
    urns = [str(e.get("share") or e.get("ugcPost")) for e in fixture.body["elements"]]
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(return_value=fixture.response())
        async with LinkedInInsightsClient(LinkedInClientConfig(base_url=LI)) as li:
            results = await li.get_ugc_stats("li-token", "urn:li:organization:2414183", urns)
    assert route.call_count == 1  # shares and ugcPosts in one call
    payload = results[urns[0]].payload
    assert payload is not None
    values = map_linkedin_to_post_metrics(payload, kind="organization")
    assert (values.impressions, values.reach, values.clicks) == (1318, 812, 31)
    assert (values.likes, values.comments, values.shares) == (24, 3, 4)
    assert results[urns[1]].ok


async def test_linkedin_member_analytics_both_metric_type_shapes() -> None:
    replies = {
        "IMPRESSION": load("linkedin/member_post_analytics_total"),
        "REACTION": load("linkedin/member_post_analytics_total_legacy"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        fixture = replies.get(request.url.params["queryType"])
        if fixture is None:  # no data for this metric
            return httpx.Response(200, json={"paging": {"start": 0, "count": 10, "links": []},
                                             "elements": []})  # fmt: skip
        return fixture.response()

    urn = "urn:li:share:7150000000000000001"
    with respx.mock(base_url=LI) as mock:
        mock.get(MEMBER).mock(side_effect=handler)
        async with LinkedInInsightsClient(LinkedInClientConfig(base_url=LI)) as li:
            results = await li.get_member_post_stats("li-token", [urn])
    payload = results[urn].payload
    assert payload is not None
    values = map_linkedin_to_post_metrics(payload, kind="member")
    assert (values.impressions, values.likes) == (5210, 87)
    assert values.comments is None  # no data is not zero


@pytest.mark.parametrize(
    ("name", "error_type", "raised", "calls"),
    [("error_401_invalid_token", TokenError, True, 1),
     ("error_403_access_denied", PlatformPermissionError, False, 1),
     ("error_426_nonexistent_version", ApiVersionError, False, 1),
     # A daily quota: not retried in-process (the refresher parks the key until 00:00 UTC).
     ("error_429_throttled", ThrottledError, True, 1)],
)  # fmt: skip
async def test_linkedin_errors(
    name: str, error_type: type[Exception], raised: bool, calls: int
) -> None:
    fixture = load(f"linkedin/{name}")
    with respx.mock(base_url=LI) as mock:
        route = mock.get(STATS).mock(return_value=fixture.response())
        async with LinkedInInsightsClient(LinkedInClientConfig(base_url=LI)) as li:
            call = li.get_ugc_stats("li-token", "urn:li:organization:1", ["urn:li:share:1"])
            if raised:
                with pytest.raises(error_type):
                    await call
            else:
                result = (await call)["urn:li:share:1"]
                assert isinstance(result.error, error_type)
    assert route.call_count == calls


async def test_linkedin_426_says_which_setting_to_change() -> None:
    # An inactive LinkedIn-Version is the operator's to fix, not the post's: its own kind,
    # and a message naming the setting (with LinkedIn's words kept).
    fixture = load("linkedin/error_426_nonexistent_version")
    with respx.mock(base_url=LI) as mock:
        mock.get(STATS).mock(return_value=fixture.response())
        async with LinkedInInsightsClient(LinkedInClientConfig(base_url=LI)) as li:
            results = await li.get_ugc_stats(
                "li-token", "urn:li:organization:1", ["urn:li:share:1"]
            )
    error = results["urn:li:share:1"].error
    assert error is not None
    assert error.kind is ErrorKind.API_VERSION_INACTIVE
    assert not error.transient
    assert "Requested version 20240201 is not active" in error.message
    assert "set it to an active YYYYMM version" in error.message
    assert "LINKEDIN_API_VERSION" in error.message
    assert error.to_dict()["kind"] == "api_version_inactive"
