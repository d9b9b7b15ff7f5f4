"""MetaInsightsClient against a respx-faked Graph batch endpoint."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from app.integrations.errors import (
    NotFoundError,
)
from app.integrations.http import KeyedLimiter
from app.integrations.meta_insights import MetaInsightsClient
from app.integrations.metric_rejections import MetricRejections
from app.integrations.platforms.facebook_metrics import resolve_fb_metrics
from app.integrations.platforms.instagram_metrics import resolve_ig_metrics
from app.services.insights_mapper import map_meta_to_post_metrics
from tests.integrations.fakes import GRAPH, TOKEN, FakeGraph, meta_config


@pytest.fixture
def client(meta_client: MetaInsightsClient) -> MetaInsightsClient:
    return meta_client


async def test_batch_of_50_with_one_failing_item(
    graph: FakeGraph, client: MetaInsightsClient
) -> None:
    ids = [f"1_{n}" for n in range(50)]
    graph.item_errors["1_7"] = (400, {"code": 100, "error_subcode": 33, "message": (
        "Unsupported get request. Object with ID '1_7' does not exist")})  # fmt: skip

    results = await client.get_fb_post_insights(TOKEN, ids, page_id="1")

    assert len(graph.calls) == 1
    assert len(graph.calls[0]["batch"]) == 50
    assert isinstance(results["1_7"].error, NotFoundError)
    assert not results["1_7"].ok
    assert all(results[i].ok for i in ids if i != "1_7")
    payload = results["1_0"].payload
    assert payload is not None
    values = map_meta_to_post_metrics("facebook", payload, media_type=results["1_0"].media_type)
    assert values.likes == 5
    assert values.comments == 2
    assert values.shares == 0


async def test_more_than_50_ids_are_chunked(graph: FakeGraph, client: MetaInsightsClient) -> None:
    ids = [f"1_{n}" for n in range(120)]
    results = await client.get_fb_post_insights(TOKEN, ids)
    assert len(graph.calls) == 3
    assert sorted(len(c["batch"]) for c in graph.calls) == [20, 50, 50]
    assert list(results) == ids
    assert all(r.ok for r in results.values())


async def test_batch_form_fields_and_appsecret_proof(
    graph: FakeGraph, client: MetaInsightsClient
) -> None:
    await client.get_fb_post_insights(TOKEN, ["1_2"])
    form = graph.calls[0]["form"]
    assert form["access_token"] == TOKEN
    assert form["include_headers"] == "false"
    # Independently computed: printf TOKEN | openssl dgst -sha256 -hmac SECRET
    assert form["appsecret_proof"] == (
        "f92daf0afee3b9eb2aa18827b547026da4d4a22949d6b673d9042d81e749d15d"
    )
    assert graph.urls(0) == [
        "1_2?fields=insights.metric(post_media_view,post_total_media_view_unique,post_clicks,"
        "post_reactions_by_type_total).period(lifetime),reactions.limit(0).summary(true),"
        "comments.limit(0).summary(true),shares,permalink_url,created_time,status_type"
    ]


async def test_no_appsecret_proof_without_secret(graph: FakeGraph) -> None:
    async with MetaInsightsClient(meta_config(app_secret=None)) as meta:
        await meta.get_fb_post_insights(TOKEN, ["1_2"])
    assert "appsecret_proof" not in graph.calls[0]["form"]


async def test_unnamed_invalid_metric_is_probed_dropped_and_remembered(graph: FakeGraph) -> None:
    graph.retired = {"post_clicks"}
    rejections = MetricRejections()
    async with MetaInsightsClient(meta_config(), rejections=rejections) as meta:
        first = await meta.get_fb_post_insights(TOKEN, ["1_1", "1_2"])
        assert len(graph.calls) == 3  # all fail, one probe batch, retry without the metric
        assert len(graph.calls[1]["batch"]) == 4  # each metric alone on one post
        assert all(r.ok and r.dropped_metrics == ("post_clicks",) for r in first.values())
        payload = first["1_1"].payload
        assert payload is not None
        assert "post_clicks" not in json.dumps(payload["insights"])
        assert map_meta_to_post_metrics("facebook", payload, media_type=None).clicks is None

        second = await meta.get_fb_post_insights(TOKEN, ["1_3"])
    assert len(graph.calls) == 4
    assert "post_clicks" not in graph.calls[3]["form"]["batch"]
    assert second["1_3"].ok
    assert second["1_3"].dropped_metrics == ("post_clicks",)
    assert rejections.export()[0] | {"reason": ""} == {
        "provider": "facebook", "api_version": "v25.0", "media_type": "post",
        "metric": "post_clicks", "reason": "",
    }  # fmt: skip


async def test_named_invalid_metric_is_dropped_without_probe(graph: FakeGraph) -> None:
    graph.retired, graph.name_retired = {"post_clicks"}, True
    async with MetaInsightsClient(meta_config()) as meta:
        results = await meta.get_fb_post_insights(TOKEN, ["1_1"])
    assert len(graph.calls) == 2  # no probe needed: the error named the metric
    assert "post_clicks" not in graph.calls[1]["form"]["batch"]
    assert results["1_1"].ok
    assert results["1_1"].dropped_metrics == ("post_clicks",)


async def test_all_metrics_rejected_still_returns_object_counts(graph: FakeGraph) -> None:
    graph.retired = {"post_media_view", "post_total_media_view_unique", "post_clicks",
                     "post_reactions_by_type_total"}  # fmt: skip
    async with MetaInsightsClient(meta_config()) as meta:
        result = (await meta.get_fb_post_insights(TOKEN, ["1_1"]))["1_1"]
    assert result.ok
    assert len(result.dropped_metrics) == 4
    assert result.payload is not None
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=None)
    assert (values.impressions, values.likes, values.comments) == (None, 5, 2)


async def test_ig_unsupported_metric_for_product_type_remembered(graph: FakeGraph) -> None:
    graph.kinds = {"9": ("IMAGE", "STORY")}
    graph.unsupported = {"STORY": {"replies"}}
    rejections = MetricRejections()
    async with MetaInsightsClient(meta_config(), rejections=rejections) as meta:
        first = await meta.get_ig_media_insights(TOKEN, ["9"], media_types={"9": "STORY/IMAGE"})
        # insights fails -> re-discover to confirm the cached type -> retry without it
        assert len(graph.calls) == 3
        assert first["9"].ok
        assert first["9"].dropped_metrics == ("replies",)
        await meta.get_ig_media_insights(TOKEN, ["9"], media_types={"9": "STORY/IMAGE"})
    assert len(graph.calls) == 4
    assert "replies" not in graph.calls[3]["form"]["batch"]
    assert rejections.rejected("instagram", "v25.0", "STORY/IMAGE") == {"replies"}


async def test_ig_wrong_cached_type_is_not_blamed_on_the_metric(graph: FakeGraph) -> None:
    graph.kinds = {"9": ("IMAGE", "STORY")}
    graph.unsupported = {"STORY": {"saved", "likes", "comments"}}
    rejections = MetricRejections()
    async with MetaInsightsClient(meta_config(), rejections=rejections) as meta:
        result = await meta.get_ig_media_insights(TOKEN, ["9"], media_types={"9": "FEED/IMAGE"})
    assert result["9"].ok
    assert result["9"].media_type == "STORY/IMAGE"
    assert rejections.export() == []


async def test_ig_discovers_media_type_then_fetches_insights(graph: FakeGraph) -> None:
    graph.kinds = {"1": ("IMAGE", "FEED"), "2": ("VIDEO", "REELS"), "3": ("IMAGE", "STORY"),
                   "4": ("CAROUSEL_ALBUM", "FEED")}  # fmt: skip
    async with MetaInsightsClient(meta_config()) as meta:
        results = await meta.get_ig_media_insights(TOKEN, ["1", "2", "3", "4"])
    assert graph.urls(0) == [
        f"{i}?fields=id,media_type,media_product_type,like_count,comments_count,timestamp,permalink"
        for i in "1234"
    ]
    sent = {u.split("?")[0]: u for n in range(1, len(graph.calls)) for u in graph.urls(n)}
    assert (
        "insights.metric(views,reach,likes,comments,shares,saved,total_interactions)" in sent["1"]
    )
    assert "insights.metric(views,reach,shares,total_interactions,replies)" in sent["3"]
    assert {r.media_type for r in results.values()} == {
        "FEED/IMAGE", "REELS/VIDEO", "STORY/IMAGE", "FEED/CAROUSEL_ALBUM"}  # fmt: skip
    reel = results["2"].payload
    assert reel is not None
    values = map_meta_to_post_metrics("instagram", reel, media_type=results["2"].media_type)
    assert values.video_views == values.impressions == 105
    assert values.saves == 105
    assert values.clicks is None


async def test_ig_known_types_skip_discovery(graph: FakeGraph) -> None:
    async with MetaInsightsClient(meta_config()) as meta:
        await meta.get_ig_media_insights(
            TOKEN, ["1", "2"], media_types={"1": "IMAGE", "2": "IMAGE"}
        )
    assert len(graph.calls) == 1


async def test_fb_video_uses_video_insights(graph: FakeGraph) -> None:
    async with MetaInsightsClient(meta_config()) as meta:
        results = await meta.get_fb_post_insights(
            TOKEN, ["777", "1_5", "1_6"], media_types={"777": "video", "1_5": "added_video"}
        )
    urls = {u.split("?")[0]: u for u in graph.urls(0) + graph.urls(1) + graph.urls(2)}
    assert urls["777"].startswith(
        "777?fields=video_insights.metric(total_video_views,total_video_views_unique)"
    )
    assert "impressions" not in urls["777"]  # retired with the other impressions metrics
    assert "shares" not in urls["777"]
    assert "post_video_views" in urls["1_5"]
    assert "post_video_views" not in urls["1_6"]
    video = results["777"].payload
    assert video is not None
    values = map_meta_to_post_metrics("facebook", video, media_type="video")
    assert values.video_views == 117
    assert values.shares is None
    assert results["777"].media_type == "video"


async def test_legacy_env_names_are_translated_before_sending(graph: FakeGraph) -> None:
    fb = resolve_fb_metrics("impressions,post_impressions_unique,likes,comments,shares,clicks")
    ig = resolve_ig_metrics("impressions,reach,likes,comments,saves,video_views")
    async with MetaInsightsClient(
        meta_config(fb_metrics=fb.metrics, ig_metrics=ig.metrics)
    ) as meta:
        fb_results = await meta.get_fb_post_insights(TOKEN, ["1_1"])
        ig_results = await meta.get_ig_media_insights(TOKEN, ["5"], media_types={"5": "IMAGE"})
    assert (
        "insights.metric(post_media_view,post_total_media_view_unique,"
        "post_reactions_by_type_total,post_clicks).period(lifetime)"
    ) in graph.urls(0)[0]
    assert "insights.metric(views,reach,likes,comments,saved,shares)" in graph.urls(1)[0]
    for word in ("impressions", "saves", "video_views", "(likes", ",clicks"):
        assert word not in graph.urls(0)[0] + graph.urls(1)[0]
    fb_payload, ig_payload = fb_results["1_1"].payload, ig_results["5"].payload
    assert fb_payload is not None
    assert ig_payload is not None
    fb_values = map_meta_to_post_metrics("facebook", fb_payload, media_type=None)
    assert None not in (fb_values.impressions, fb_values.reach, fb_values.likes,
                        fb_values.comments, fb_values.shares, fb_values.clicks)  # fmt: skip
    ig_values = map_meta_to_post_metrics("instagram", ig_payload, media_type="FEED/IMAGE")
    assert None not in (ig_values.impressions, ig_values.reach, ig_values.likes,
                        ig_values.comments, ig_values.saves)  # fmt: skip


async def test_item_transient_error_resent_alone(
    graph: FakeGraph, client: MetaInsightsClient
) -> None:
    graph.transient_once = {"1_2"}
    results = await client.get_fb_post_insights(TOKEN, ["1_1", "1_2", "1_3"])
    assert len(graph.calls) == 2
    assert graph.urls(1)[0].startswith("1_2?")
    assert all(r.ok for r in results.values())


async def test_usage_headers_feed_the_limiter(graph: FakeGraph) -> None:
    graph.headers = {
        "X-App-Usage": json.dumps({"call_count": 12, "total_cputime": 3, "total_time": 5}),
        "X-Business-Use-Case-Usage": json.dumps({"1": [{"type": "pages", "call_count": 90,
            "total_cputime": 10, "total_time": 20, "estimated_time_to_regain_access": 0}]}),
    }  # fmt: skip
    limiter = KeyedLimiter(max_rate=1000, time_period=1)
    async with MetaInsightsClient(meta_config(), limiter=limiter) as meta:
        await meta.get_fb_post_insights(TOKEN, ["1_1"], page_id="1")
    # Page "1" at 90 %: past slow_down_at=75 the rate falls to (100-90)/(100-75) = 0.4 of
    # full speed, so each call costs 2.5; the app at 12 % stays at full speed.
    assert limiter.cost("1") == pytest.approx(2.5)
    assert limiter.cost("app") == 1.0


async def test_insights_cursor_paging_is_followed_for_new_metrics() -> None:
    first = {
        "id": "1_1",
        "insights": {
            "data": [{"name": "post_media_view", "values": [{"value": 10}]}],
            "paging": {
                "cursors": {"before": "MAZDZD", "after": "abc"},
                "next": "https://elsewhere.test/1_1/insights?access_token=OLD&after=abc",
            },
        },
    }
    page2 = {"data": [{"name": "post_clicks", "values": [{"value": 4}]}], "paging": {}}
    with respx.mock(base_url=GRAPH) as mock:
        mock.post("/v25.0/").respond(200, json=[{"code": 200, "body": json.dumps(first)}])
        nxt = mock.get("/v25.0/1_1/insights").respond(200, json=page2)
        async with MetaInsightsClient(meta_config()) as meta:
            result = (await meta.get_fb_post_insights(TOKEN, ["1_1"]))["1_1"]
    assert nxt.call_count == 1
    params = nxt.calls[0].request.url.params
    assert params["after"] == "abc"
    assert params["access_token"] == TOKEN
    assert result.payload is not None
    values = map_meta_to_post_metrics("facebook", result.payload, media_type=None)
    assert (values.impressions, values.clicks) == (10, 4)
    assert "paging" not in result.payload["insights"]


async def test_malformed_ids_fail_alone(graph: FakeGraph, client: MetaInsightsClient) -> None:
    results = await client.get_fb_post_insights(TOKEN, ["1_1", "1_1?access_token=x"])
    assert results["1_1"].ok
    assert not results["1_1?access_token=x"].ok
    assert len(graph.calls[0]["batch"]) == 1


async def test_shared_http_client_is_not_closed(graph: FakeGraph) -> None:
    http = httpx.AsyncClient(base_url=GRAPH)
    async with MetaInsightsClient(meta_config(), http=http) as meta:
        await meta.get_fb_post_insights(TOKEN, ["1_1"])
    assert not http.is_closed
    await http.aclose()
