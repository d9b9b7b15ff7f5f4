"""The sandbox's publishing replies have the structure of the real ones in the fixtures
(``tests/fixtures/platforms/*/publish_*``, container, quota and LinkedIn upload replies)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app.integrations.linkedin_insights import encode_urn
from app.sandbox.client import SandboxControl
from tests.contracts.platform_replies import load
from tests.contracts.sandbox_check import reply_diff
from tests.sandbox.conftest import START, Graph, li_headers
from tests.sandbox.test_publish_linkedin import LinkedIn, post_body


async def test_facebook_creates(graph: Graph, demo: dict[str, Any]) -> None:
    page, token = demo["page_id"], demo["page_token"]
    reply = await graph.post(f"/{page}/feed", token, message="hello", link="https://e.com")
    assert reply_diff(load("facebook/publish_feed"), reply) == []
    reply = await graph.post(f"/{page}/photos", token, url="https://e.com/a.jpg", caption="a")
    assert reply_diff(load("facebook/publish_photo"), reply) == []
    photos = []
    for i in range(2):
        reply = await graph.post(f"/{page}/photos", token, url=f"https://e.com/{i}.jpg",
                                 published="false")  # fmt: skip
        assert reply_diff(load("facebook/publish_photo_unpublished"), reply) == []
        photos.append(reply.json()["id"])
    form = {f"attached_media[{i}]": json.dumps({"media_fbid": p}) for i, p in enumerate(photos)}
    reply = await graph.post(f"/{page}/feed", token, message="two", **form)
    assert reply_diff(load("facebook/publish_feed_attached_media"), reply) == []
    reply = await graph.post(f"/{page}/videos", token, file_url="https://e.com/v.mp4")
    assert reply_diff(load("facebook/publish_video"), reply) == []
    reply = await graph.post(f"/{page}/feed", token, message="two")
    # The capture shows only type and message; the sandbox also sends code and fbtrace_id.
    assert reply_diff(load("graph/error_506_duplicate"), reply, extra_keys=True) == []


async def test_facebook_published_posts_listing(graph: Graph, demo: dict[str, Any]) -> None:
    page, token = demo["page_id"], demo["page_token"]
    for i in range(3):
        await graph.post(f"/{page}/feed", token, message=f"listed {i}")
    reply = await graph.get(f"/{page}/published_posts", token, fields="id,message,created_time",
                            since=int(START), limit=2)  # fmt: skip
    assert reply_diff(load("facebook/published_posts"), reply) == []


async def test_instagram_container_lifecycle_and_publish(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    reply = await graph.post(f"/{ig}/media", token, image_url="https://e.com/a.jpg", caption="c")
    assert reply_diff(load("instagram/container_create"), reply) == []
    container = reply.json()["id"]
    status = await graph.get(f"/{container}", token, fields="status_code")
    assert reply_diff(load("instagram/container_status_in_progress"), status) == []
    early = await graph.post(f"/{ig}/media_publish", token, creation_id=container)
    assert reply_diff(load("instagram/error_9007_not_ready"), early, extra_keys=True) == []
    await ctl.advance_clock(5)
    published = await graph.post(f"/{ig}/media_publish", token, creation_id=container)
    assert reply_diff(load("instagram/media_publish"), published) == []
    limit = await graph.get(f"/{ig}/content_publishing_limit", token, fields="quota_usage,config")
    assert reply_diff(load("instagram/content_publishing_limit"), limit) == []


async def test_instagram_errors(graph: Graph, ctl: SandboxControl, demo: dict[str, Any]) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    await ctl.set_publish_fault("processing_error", platform="instagram", count=1)
    failed = (await graph.post(f"/{ig}/media", token, image_url="https://e.com/x.jpg")).json()
    ready = [
        (await graph.post(f"/{ig}/media", token, image_url=f"https://e.com/{i}.jpg")).json()["id"]
        for i in range(2)
    ]
    await ctl.advance_clock(5)
    status = await graph.get(f"/{failed['id']}", token, fields="status_code,status")
    assert reply_diff(load("instagram/container_status_error"), status) == []
    await ctl.set_publish_fault("error_after_create", platform="instagram", count=1)
    blocked = await graph.post(f"/{ig}/media_publish", token, creation_id=ready[0])
    assert reply_diff(load("instagram/error_4_2207051_after_create"), blocked) == []
    await ctl.set_quotas(ig_publish_per_day=1)
    over = await graph.post(f"/{ig}/media_publish", token, creation_id=ready[1])
    assert reply_diff(load("instagram/error_9_2207042_quota"), over) == []


def _value(body: Any) -> Any:
    return body["value"]


async def test_linkedin_create_and_uploads(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    li = LinkedIn(client, demo["org_admin_token"])
    org = demo["org_urn"]
    created = await li.post("/rest/posts", post_body(org, "contract"))
    fixture = load("linkedin/post_create")
    assert (created.status_code, created.content, fixture.body) == (fixture.status, b"", None)
    assert (
        created.headers["x-restli-id"].split(":")[:3]
        == (fixture.headers["x-restli-id"].split(":")[:3])
    )
    init = await li.post(
        "/rest/images?action=initializeUpload", {"initializeUploadRequest": {"owner": org}}
    )
    # part=: an object under "value" is compared as a map of data (insights values) otherwise.
    assert reply_diff(load("linkedin/images_initialize"), init, part=_value) == []
    await client.put(init.json()["value"]["uploadUrl"], content=b"image")
    await ctl.advance_clock(5)
    image = await li.get(f"/rest/images/{encode_urn(init.json()['value']['image'])}")
    assert reply_diff(load("linkedin/image_status"), image, extra_keys=True) == []
    await ctl.set_settings(linkedin_video_part_bytes=4_194_304)
    video_init = await li.post(
        "/rest/videos?action=initializeUpload",
        {"initializeUploadRequest": {"owner": org, "fileSizeBytes": 6_291_456,
                                     "uploadCaptions": False, "uploadThumbnail": False}},
    )  # fmt: skip
    fixture = load("linkedin/videos_initialize")
    assert reply_diff(fixture, video_init, extra_keys=True, part=_value) == []
    value = video_init.json()["value"]
    etags = []
    for part in value["uploadInstructions"]:
        size = part["lastByte"] - part["firstByte"] + 1
        etags.append((await client.put(part["uploadUrl"], content=b"v" * size)).headers["etag"])
    await li.post("/rest/videos?action=finalizeUpload", {"finalizeUploadRequest": {
        "video": value["video"], "uploadToken": "", "uploadedPartIds": etags}})  # fmt: skip
    await ctl.advance_clock(60)
    video = await li.get(f"/rest/videos/{encode_urn(value['video'])}")
    assert reply_diff(load("linkedin/video_status_available"), video, extra_keys=True) == []


async def test_linkedin_listing_and_errors(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    li = LinkedIn(client, demo["org_admin_token"])
    org = demo["org_urn"]
    await li.post("/rest/posts", post_body(org, "listed"))
    listing = await li.get(f"/rest/posts?author={encode_urn(org)}&q=author&count=10&sortBy=CREATED")
    assert reply_diff(load("linkedin/posts_by_author"), listing, extra_keys=True) == []
    again = await li.post("/rest/posts", post_body(org, "listed"))
    assert reply_diff(load("linkedin/error_422_duplicate_post"), again) == []
    member = await client.get(
        f"/rest/posts?author={encode_urn(demo['member_urn'])}&q=author",
        headers=li_headers(demo["member_token"]),
    )
    assert reply_diff(load("linkedin/error_400_member_as_author"), member) == []
