"""Publishing: page feed/photos and the Instagram container flow with its daily limit."""

from __future__ import annotations

from typing import Any

from app.sandbox.client import SandboxControl
from tests.sandbox.conftest import Graph


async def test_feed_and_photo(graph: Graph, ctl: SandboxControl, demo: dict[str, Any]) -> None:
    page, token = demo["page_id"], demo["page_token"]
    r = await graph.post(
        f"/{page}/feed", token, message="Hello from the sandbox", link="https://example.com"
    )
    assert r.status_code == 200
    post_id = r.json()["id"]
    assert post_id.startswith(f"{page}_")
    r = await graph.get(f"/{post_id}", token, fields="message,created_time")
    assert r.json()["message"] == "Hello from the sandbox"
    r = await graph.post(
        f"/{page}/photos", token, url="https://example.com/a.jpg", caption="A photo"
    )
    body = r.json()
    assert set(body) == {"id", "post_id"}
    assert body["post_id"].startswith(f"{page}_")
    r = await graph.post(
        f"/{page}/feed", token, message="Hello from the sandbox", link="https://example.com"
    )
    assert r.json()["error"]["code"] == 506
    r = await graph.post(f"/{page}/feed", demo["meta_user_token"], message="as user")
    assert r.json()["error"]["code"] == 200
    counters = await ctl.counters()
    assert counters["posts_created"]["facebook"] == 10 + 2


async def test_new_post_metrics_start_at_zero_and_grow(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    r = await graph.post(f"/{demo['page_id']}/feed", demo["page_token"], message="fresh")
    post_id = r.json()["id"]
    r = await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_media_view")
    assert r.json()["data"][0]["values"][0]["value"] == 0
    await ctl.advance_clock(6 * 3600)
    r = await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_media_view")
    assert r.json()["data"][0]["values"][0]["value"] > 0


async def test_instagram_container_flow(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    r = await graph.post(
        f"/{ig}/media",
        token,
        video_url="https://example.com/v.mp4",
        media_type="REELS",
        caption="reel",
    )
    container = r.json()["id"]
    r = await graph.get(f"/{container}", token, fields="status_code")
    assert r.json()["status_code"] == "IN_PROGRESS"
    r = await graph.post(f"/{ig}/media_publish", token, creation_id=container)
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"]) == (9007, 2207027)
    await ctl.advance_clock(30)
    r = await graph.get(f"/{container}", token, fields="status_code")
    assert r.json()["status_code"] == "FINISHED"
    r = await graph.post(f"/{ig}/media_publish", token, creation_id=container)
    media_id = r.json()["id"]
    r = await graph.get(f"/{media_id}", token, fields="media_type,media_product_type,caption")
    assert r.json() == {
        "media_type": "VIDEO",
        "media_product_type": "REELS",
        "caption": "reel",
        "id": media_id,
    }
    r = await graph.get(f"/{container}", token, fields="status_code")
    assert r.json()["status_code"] == "PUBLISHED"
    r = await graph.get(f"/{ig}/content_publishing_limit", token, fields="quota_usage,config")
    assert r.json()["data"][0] == {
        "quota_usage": 1,
        "config": {"quota_total": 50, "quota_duration": 86400},
    }


async def test_container_expires_after_24h(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    container = (
        await graph.post(f"/{ig}/media", token, image_url="https://example.com/i.jpg")
    ).json()["id"]
    await ctl.advance_clock(86_400)
    r = await graph.get(f"/{container}", token, fields="status_code")
    assert r.json()["status_code"] == "EXPIRED"
    error = (await graph.post(f"/{ig}/media_publish", token, creation_id=container)).json()["error"]
    assert (error["code"], error["error_subcode"]) == (-2, 2207020)  # Meta's error-codes table


async def test_publishing_limit_enforced(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_quotas(ig_publish_per_day=2)
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    containers = [
        (await graph.post(f"/{ig}/media", token, image_url=f"https://example.com/{i}.jpg")).json()[
            "id"
        ]
        for i in range(3)
    ]
    await ctl.advance_clock(10)
    for container in containers[:2]:
        assert (
            "id" in (await graph.post(f"/{ig}/media_publish", token, creation_id=container)).json()
        )
    error = (await graph.post(f"/{ig}/media_publish", token, creation_id=containers[2])).json()[
        "error"
    ]
    assert (error["code"], error["error_subcode"]) == (9, 2207042)
    await ctl.advance_clock(86_400)
    container = (
        await graph.post(f"/{ig}/media", token, image_url="https://example.com/x.jpg")
    ).json()["id"]
    await ctl.advance_clock(10)
    assert "id" in (await graph.post(f"/{ig}/media_publish", token, creation_id=container)).json()


async def test_carousel_and_video_rules(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    r = await graph.post(f"/{ig}/media", token, video_url="https://example.com/v.mp4")
    assert r.json()["error"]["code"] == 100  # feed videos must be REELS
    items = [
        (
            await graph.post(
                f"/{ig}/media", token, image_url=f"https://e.com/{i}.jpg", is_carousel_item="true"
            )
        ).json()["id"]
        for i in range(2)
    ]
    parent = (
        await graph.post(f"/{ig}/media", token, media_type="CAROUSEL", children=",".join(items))
    ).json()["id"]
    await ctl.advance_clock(10)
    media_id = (await graph.post(f"/{ig}/media_publish", token, creation_id=parent)).json()["id"]
    r = await graph.get(f"/{media_id}", token, fields="media_type,children")
    assert r.json()["media_type"] == "CAROUSEL_ALBUM"
    assert len(r.json()["children"]["data"]) == 2
