"""Facebook Page and Instagram publishing on the sandbox: every content kind, the listings
used to reconcile, duplicate text, container states and the publishing quota."""

from __future__ import annotations

import json
from typing import Any

from app.sandbox.client import SandboxControl
from tests.sandbox.conftest import START, Graph


async def test_unpublished_photos_then_one_feed_post(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    photos = []
    for i in range(3):
        r = await graph.post(
            f"/{page}/photos", token, url=f"https://e.com/{i}.jpg", published="false"
        )
        assert set(r.json()) == {"id"}
        photos.append(r.json()["id"])
    listed = await graph.get(f"/{page}/published_posts", token, since=int(START) - 1)
    assert listed.json()["data"] == []  # unpublished photos are invisible
    form = {f"attached_media[{i}]": json.dumps({"media_fbid": p}) for i, p in enumerate(photos[:2])}
    r = await graph.post(f"/{page}/feed", token, message="Two photos", **form)
    post_id = r.json()["id"]
    assert post_id.startswith(f"{page}_")
    r = await graph.post(
        f"/{page}/feed", token, message="JSON style",
        attached_media=json.dumps([{"media_fbid": photos[2]}]),
    )  # fmt: skip
    assert "id" in r.json()
    again = await graph.post(
        f"/{page}/feed", token, message="reuse", **{"attached_media[0]": form["attached_media[0]"]}
    )
    assert again.json()["error"]["error_subcode"] == 1366051
    foreign = await graph.post(
        f"/{page}/feed", token, message="x", **{"attached_media[0]": '{"media_fbid":"1"}'}
    )
    assert foreign.json()["error"]["code"] == 100
    r = await graph.get(f"/{photos[0]}", token, fields="page_story_id")
    assert r.json()["page_story_id"] == post_id
    report = await ctl.published(owner_id=page)
    assert [p["media"] for p in report["posts"]] == [
        ["https://e.com/0.jpg", "https://e.com/1.jpg"],
        ["https://e.com/2.jpg"],
    ]


async def test_video_is_listed_among_the_page_videos(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    r = await graph.post(
        f"/{page}/videos", token, file_url="https://e.com/v.mp4", description="Clip"
    )
    video_id = r.json()["id"]
    assert set(r.json()) == {"id"}
    assert "_" not in video_id  # a video id, not a {page}_{post} id (research §1.4)
    await ctl.advance_clock(1)
    r = await graph.get(
        f"/{page}/videos", token, fields="id,description,created_time,permalink_url",
        since=int(START),
    )  # fmt: skip
    assert [(v["id"], v["description"]) for v in r.json()["data"]] == [(video_id, "Clip")]
    assert (await graph.post(f"/{page}/videos", token, description="no file")).json()["error"]


async def test_published_posts_since_and_cursor_paging(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    ids = []
    for i in range(5):
        ids.append((await graph.post(f"/{page}/feed", token, message=f"post {i}")).json()["id"])
        await ctl.advance_clock(10)
    params = {"fields": "id,message,created_time", "since": int(START), "limit": 2}
    seen: list[str] = []
    r = await graph.get(f"/{page}/published_posts", token, **params)
    while True:
        body = r.json()
        seen += [item["id"] for item in body["data"]]
        assert body["data"][0]["created_time"].endswith("+0000")
        if "next" not in body["paging"]:
            break
        r = await graph.get(f"/{page}/published_posts", token, **params,
                            after=body["paging"]["cursors"]["after"])  # fmt: skip
    assert seen == ids[::-1]
    r = await graph.get(f"/{page}/feed", token, fields="id,message,from", since=int(START) + 25)
    assert [item["id"] for item in r.json()["data"]] == [ids[4], ids[3]]
    assert all(item["from"]["id"] == page for item in r.json()["data"])


async def test_duplicate_status_is_refused_when_consecutive(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    assert "id" in (await graph.post(f"/{page}/feed", token, message="Same")).json()
    error = (await graph.post(f"/{page}/feed", token, message="Same")).json()["error"]
    assert (error["code"], error["message"]) == (506, "(#506) Duplicate status message")
    assert "id" in (await graph.post(f"/{page}/feed", token, message="Other")).json()
    assert "id" in (await graph.post(f"/{page}/feed", token, message="Same")).json()
    await ctl.set_settings(fb_duplicate_window_seconds=30)
    await ctl.advance_clock(31)
    assert "id" in (await graph.post(f"/{page}/feed", token, message="Same")).json()
    counts = await ctl.published_counts(platform="facebook")
    assert counts[("facebook", page, "Same")] == 3
    assert counts[("facebook", page, "Other")] == 1


async def test_container_error_with_its_subcode(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    await ctl.set_publish_fault("processing_error", platform="instagram", subcode=2207026, count=1)
    container = (
        await graph.post(f"/{ig}/media", token, video_url="https://e.com/v.mp4", media_type="REELS")
    ).json()["id"]
    status = (await graph.get(f"/{container}", token, fields="status_code")).json()
    assert status["status_code"] == "IN_PROGRESS"
    await ctl.advance_clock(30)
    status = (await graph.get(f"/{container}", token, fields="status_code,status")).json()
    assert status["status_code"] == "ERROR"
    assert "2207026" in status["status"]
    error = (await graph.post(f"/{ig}/media_publish", token, creation_id=container)).json()["error"]
    assert (error["code"], error["error_subcode"]) == (-1, 2207032)
    assert (await ctl.published(platform="instagram"))["total"] == 0


async def test_slow_processing_and_media_download_failure(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    await ctl.set_publish_fault("slow_processing", platform="instagram", delay_ms=120_000)
    container = (await graph.post(f"/{ig}/media", token, image_url="https://e.com/a.jpg")).json()[
        "id"
    ]
    await ctl.advance_clock(60)
    assert (await graph.get(f"/{container}", token, fields="status_code")).json()[
        "status_code"
    ] == "IN_PROGRESS"
    await ctl.advance_clock(65)
    assert (await graph.get(f"/{container}", token, fields="status_code")).json()[
        "status_code"
    ] == "FINISHED"
    await ctl.clear_publish_faults()
    await ctl.set_publish_fault("media_fetch_error", url="https://broken.example/*")
    error = (
        await graph.post(f"/{ig}/media", token, image_url="https://broken.example/x.jpg")
    ).json()["error"]
    assert (error["code"], error["error_subcode"]) == (-2, 2207003)
    assert (
        "id"
        in (await graph.post(f"/{ig}/media", token, image_url="https://ok.example/x.jpg")).json()
    )
    r = await graph.post(f"/{demo['page_id']}/photos", demo["page_token"],
                         url="https://broken.example/p.jpg")  # fmt: skip
    assert r.json()["error"]["code"] == 324


async def test_carousel_limits_and_media_listing(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    items = [
        (await graph.post(f"/{ig}/media", token, image_url=f"https://e.com/{i}.jpg",
                          is_carousel_item="true")).json()["id"]
        for i in range(11)
    ]  # fmt: skip
    too_many = await graph.post(
        f"/{ig}/media", token, media_type="CAROUSEL", children=",".join(items)
    )
    assert too_many.json()["error"]["code"] == 100
    one = await graph.post(f"/{ig}/media", token, media_type="CAROUSEL", children=items[0])
    assert one.json()["error"]["code"] == 100
    video_child = await graph.post(
        f"/{ig}/media",
        token,
        media_type="VIDEO",
        video_url="https://e.com/v.mp4",
        is_carousel_item="true",
    )
    parent = (await graph.post(f"/{ig}/media", token, media_type="CAROUSEL",
                               children=f"{items[0]},{video_child.json()['id']}",
                               caption="Album")).json()["id"]  # fmt: skip
    await ctl.advance_clock(30)
    media_id = (await graph.post(f"/{ig}/media_publish", token, creation_id=parent)).json()["id"]
    r = await graph.get(f"/{ig}/media", token, fields="id,caption,timestamp")
    first = r.json()["data"][0]
    assert (first["id"], first["caption"]) == (media_id, "Album")
    assert first["timestamp"].endswith("+0000")
    again = (await graph.post(f"/{ig}/media_publish", token, creation_id=parent)).json()["error"]
    assert again["code"] == 100
    report = await ctl.published(platform="instagram")
    assert report["posts"][0]["media"] == ["https://e.com/0.jpg", "https://e.com/v.mp4"]


async def test_quota_is_rolling_and_read_with_config(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    await ctl.set_quotas(ig_publish_per_day=1)
    containers = [
        (await graph.post(f"/{ig}/media", token, image_url=f"https://e.com/{i}.jpg")).json()["id"]
        for i in range(2)
    ]
    await ctl.advance_clock(5)
    assert (
        "id" in (await graph.post(f"/{ig}/media_publish", token, creation_id=containers[0])).json()
    )
    limit = (
        await graph.get(f"/{ig}/content_publishing_limit", token, fields="quota_usage,config")
    ).json()
    assert limit == {
        "data": [{"quota_usage": 1, "config": {"quota_total": 1, "quota_duration": 86400}}]
    }
    plain = (await graph.get(f"/{ig}/content_publishing_limit", token)).json()
    assert plain == {"data": [{"quota_usage": 1}]}
    error = (await graph.post(f"/{ig}/media_publish", token, creation_id=containers[1])).json()[
        "error"
    ]
    assert (error["code"], error["error_subcode"]) == (9, 2207042)
    await ctl.advance_clock(86_400 - 10)
    assert (
        "error"
        in (await graph.post(f"/{ig}/media_publish", token, creation_id=containers[1])).json()
    )
    await ctl.advance_clock(10)  # the first publish leaves the rolling 24 h window
    fresh = (await graph.post(f"/{ig}/media", token, image_url="https://e.com/n.jpg")).json()["id"]
    await ctl.advance_clock(5)
    assert "id" in (await graph.post(f"/{ig}/media_publish", token, creation_id=fresh)).json()
