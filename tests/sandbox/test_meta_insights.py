"""Facebook and Instagram insights, post fields and field expansion."""

from __future__ import annotations

from typing import Any

from app.sandbox.client import SandboxControl
from app.sandbox.curves import snapshot
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import Graph, posts_of

FB_METRICS = (
    "post_media_view,post_total_media_view_unique,post_clicks,post_clicks_by_type,"
    "post_reactions_by_type_total,post_reactions_like_total,post_video_views"
)


def _values(body: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item["values"][0]["value"] for item in body["data"]}


async def test_page_post_insights_shape(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"], media_type="photo")[0]
    r = await graph.get(
        f"/{post_id}/insights", demo["page_token"], metric=FB_METRICS, period="lifetime"
    )
    assert r.status_code == 200
    data = r.json()["data"]
    assert [item["name"] for item in data] == FB_METRICS.split(",")
    first = data[0]
    assert set(first) == {"name", "period", "values", "title", "description", "id"}
    assert first["period"] == "lifetime"
    assert first["id"] == f"{post_id}/insights/post_media_view/lifetime"
    values = _values(r.json())
    assert 0 < values["post_total_media_view_unique"] <= values["post_media_view"]
    assert isinstance(values["post_reactions_by_type_total"], dict)
    assert values["post_reactions_like_total"] == values["post_reactions_by_type_total"].get(
        "like", 0
    )
    assert values["post_video_views"] == 0  # not a video
    assert sum(values["post_clicks_by_type"].values()) == values["post_clicks"]


async def test_video_post_has_video_views(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"], media_type="video")[0]
    r = await graph.get(
        f"/{post_id}/insights", demo["page_token"], metric="post_video_views,post_media_view"
    )
    values = _values(r.json())
    assert 0 < values["post_video_views"] <= values["post_media_view"]


async def test_one_retired_metric_fails_the_whole_request(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    for retired in (
        "post_impressions",
        "post_impressions_unique",
        "post_engaged_users",
        "post_impressions_paid",
        "no_such_metric",
    ):
        r = await graph.get(
            f"/{post_id}/insights", demo["page_token"], metric=f"post_media_view,{retired}"
        )
        assert r.status_code == 400
        error = r.json()["error"]
        assert error["code"] == 100
        assert "The value must be a valid insights metric" in error["message"]
        assert error["fbtrace_id"]


async def test_post_insights_need_a_page_token(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    r = await graph.get(f"/{post_id}/insights", demo["meta_user_token"], metric="post_media_view")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 190


async def test_post_fields_with_expansion(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"], media_type="link")[0]
    fields = (
        "reactions.limit(0).summary(true),comments.limit(0).summary(true),shares,permalink_url,"
        "created_time,message,insights.metric(post_media_view,post_clicks).period(lifetime)"
    )
    r = await graph.get(f"/{post_id}", demo["page_token"], fields=fields)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == post_id
    assert body["reactions"]["data"] == []
    snap = snapshot(sandbox_state.posts[post_id], sandbox_state.now())
    assert body["reactions"]["summary"]["total_count"] == sum(snap["reactions_by_type"].values())
    assert body["comments"]["summary"]["total_count"] == snap["comments"]
    assert "shares" not in body or body["shares"]["count"] > 0
    page_id, _, suffix = post_id.partition("_")
    assert body["permalink_url"] == f"https://www.facebook.com/{page_id}/posts/{suffix}"
    assert body["created_time"].endswith("+0000")
    assert [m["name"] for m in body["insights"]["data"]] == ["post_media_view", "post_clicks"]


async def test_retired_metric_inside_expansion_fails(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    r = await graph.get(
        f"/{post_id}", demo["page_token"], fields="message,insights.metric(post_impressions_unique)"
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 100


async def test_fields_syntax_and_unknown_field(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    r = await graph.get(f"/{post_id}", demo["page_token"], fields="reactions.limit(0")
    assert r.status_code == 400
    assert "Syntax error" in r.json()["error"]["message"]
    r = await graph.get(f"/{post_id}", demo["page_token"], fields="bogus")
    assert (
        r.json()["error"]["message"]
        == "(#100) Tried accessing nonexisting field (bogus) on node type (PagePost)"
    )


async def test_unknown_and_foreign_objects_are_code_100(graph: Graph, demo: dict[str, Any]) -> None:
    r = await graph.get("/999_999", demo["page_token"], fields="message")
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["error_subcode"]) == (400, 100, 33)


async def test_video_insights(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    reel = sandbox_state.posts[posts_of(sandbox_state, demo["page_id"], media_type="reel")[0]]
    assert reel.video_id is not None
    r = await graph.get(
        f"/{reel.video_id}/video_insights",
        demo["page_token"],
        metric="total_video_views,blue_reels_play_count",
    )
    assert r.status_code == 200
    values = _values(r.json())
    assert values["total_video_views"] == values["blue_reels_play_count"] > 0
    r = await graph.get(
        f"/{reel.video_id}/video_insights", demo["page_token"], metric="total_video_impressions"
    )
    assert r.json()["error"]["code"] == 100
    r = await graph.get(f"/{reel.video_id}/insights", demo["page_token"], metric="post_video_views")
    assert r.json()["error"]["code"] == 2500  # videos use video_insights


async def test_instagram_media_metrics_by_product_type(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    ig = demo["ig_user_id"]
    token = demo["meta_user_token"]
    feed = posts_of(sandbox_state, ig, product_type="FEED")[0]
    reel = posts_of(sandbox_state, ig, product_type="REELS")[0]
    story = posts_of(sandbox_state, ig, product_type="STORY")[0]
    r = await graph.get(
        f"/{feed}/insights",
        token,
        metric="views,reach,likes,comments,shares,saved,total_interactions,profile_visits,follows",
    )
    assert r.status_code == 200, r.text
    values = _values(r.json())
    assert values["reach"] <= values["views"]
    assert (
        values["total_interactions"]
        == values["likes"] + values["comments"] + values["shares"] + values["saved"]
    )
    r = await graph.get(
        f"/{reel}/insights",
        token,
        metric="views,ig_reels_avg_watch_time,ig_reels_video_view_total_time",
    )
    assert r.status_code == 200
    r = await graph.get(f"/{story}/insights", token, metric="views,replies,navigation")
    assert r.status_code == 200
    r = await graph.get(f"/{feed}/insights", token, metric="views,ig_reels_avg_watch_time")
    error = r.json()["error"]
    assert error["code"] == 100
    assert (
        "does not support the ig_reels_avg_watch_time metric for this media product type"
        in error["message"]
    )
    r = await graph.get(f"/{story}/insights", token, metric="saved")
    assert "does not support the saved metric" in r.json()["error"]["message"]


async def test_instagram_retired_metrics(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    reel = posts_of(sandbox_state, demo["ig_user_id"], product_type="REELS")[0]
    for retired in (
        "impressions",
        "plays",
        "clips_replays_count",
        "ig_reels_aggregated_all_plays_count",
        "video_views",
        "saves",
    ):
        r = await graph.get(f"/{reel}/insights", demo["page_token"], metric=f"reach,{retired}")
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "(#100) The value must be a valid insights metric"


async def test_story_insights_empty_after_24h(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    story = posts_of(sandbox_state, demo["ig_user_id"], product_type="STORY")[0]
    sandbox_state.clock.advance(20 * 3600)
    r = await graph.get(f"/{story}/insights", demo["page_token"], metric="views,reach")
    assert r.json()["data"]
    sandbox_state.clock.advance(2 * 3600)
    r = await graph.get(f"/{story}/insights", demo["page_token"], metric="views,reach")
    assert r.json() == {"data": []}


async def test_instagram_media_fields(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    reel = posts_of(sandbox_state, demo["ig_user_id"], product_type="REELS")[0]
    fields = (
        "media_type,media_product_type,like_count,comments_count,timestamp,permalink,caption,"
        "insights.metric(likes,comments)"
    )
    r = await graph.get(f"/{reel}", demo["page_token"], fields=fields)
    body = r.json()
    assert body["media_type"] == "VIDEO"
    assert body["media_product_type"] == "REELS"
    assert body["permalink"].startswith("https://www.instagram.com/reel/")
    likes = {m["name"]: m["values"][0]["value"] for m in body["insights"]["data"]}
    assert likes == {"likes": body["like_count"], "comments": body["comments_count"]}
    r = await graph.get(f"/{reel}", demo["page_token"], fields="insights.metric(impressions)")
    assert r.json()["error"]["code"] == 100
    carousel = posts_of(sandbox_state, demo["ig_user_id"], media_type="CAROUSEL_ALBUM")[0]
    r = await graph.get(f"/{carousel}", demo["page_token"], fields="media_type,children")
    assert r.json()["media_type"] == "CAROUSEL_ALBUM"
    assert len(r.json()["children"]["data"]) == 3


async def test_insights_rules_are_the_same_for_edge_and_field_expansion(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"], media_type="photo")[0]
    user = demo["meta_user_token"]
    edge = await graph.get(f"/{post_id}/insights", user, metric="post_media_view")
    field = await graph.get(f"/{post_id}", user, fields="insights.metric(post_media_view)")
    for r in (edge, field):
        assert r.status_code == 400
        assert r.json()["error"]["code"] == 190  # page-post insights need a page token
    no_insights = (
        await ctl.create_token(
            "meta", demo["page_id"], kind="page", scopes=["pages_read_engagement"]
        )
    )["access_token"]
    reel = sandbox_state.posts[posts_of(sandbox_state, demo["page_id"], media_type="reel")[0]]
    assert reel.video_id is not None
    for path, params in (
        (f"/{post_id}/insights", {"metric": "post_media_view"}),
        (f"/{post_id}", {"fields": "insights.metric(post_media_view)"}),
        (f"/{reel.video_id}/video_insights", {"metric": "total_video_views"}),
        (f"/{reel.video_id}", {"fields": "video_insights.metric(total_video_views)"}),
    ):
        r = await graph.get(path, no_insights, **params)
        assert r.status_code == 400, path
        assert r.json()["error"]["message"] == (
            "(#10) This endpoint requires the 'read_insights' permission."
        )
    edge = await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_media_view")
    field = await graph.get(
        f"/{post_id}", demo["page_token"], fields="insights.metric(post_media_view)"
    )
    assert edge.json() == field.json()["insights"]


async def test_story_lifetime_is_not_the_container_expiry(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    story = posts_of(sandbox_state, demo["ig_user_id"], product_type="STORY")[0]
    await ctl.set_settings(ig_container_ttl_seconds=3600)
    sandbox_state.clock.advance(20 * 3600)
    edge = await graph.get(f"/{story}/insights", demo["page_token"], metric="views,reach")
    field = await graph.get(f"/{story}", demo["page_token"], fields="insights.metric(views,reach)")
    assert edge.json()["data"]
    assert field.json()["insights"] == edge.json()
    sandbox_state.clock.advance(2 * 3600)
    field = await graph.get(f"/{story}", demo["page_token"], fields="insights.metric(views,reach)")
    assert field.json()["insights"] == {"data": []}
