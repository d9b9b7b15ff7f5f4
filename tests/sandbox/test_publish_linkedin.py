"""LinkedIn publishing on the sandbox: image and video uploads, posts with media, listing by
author, duplicate content, and the headers every call needs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.integrations.linkedin_insights import encode_urn
from app.sandbox.client import SandboxControl
from tests.sandbox.conftest import li_headers

DISTRIBUTION = {
    "feedDistribution": "MAIN_FEED",
    "targetEntities": [],
    "thirdPartyDistributionChannels": [],
}


def post_body(author: str, text: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "author": author,
        "commentary": text,
        "visibility": "PUBLIC",
        "distribution": DISTRIBUTION,
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    if content is not None:
        body["content"] = content
    return body


class LinkedIn:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token

    async def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        headers = {**li_headers(token or self.token), "Content-Type": "application/json"}
        return await self.client.post(path, content=json.dumps(body), headers=headers)

    async def get(self, path: str, token: str | None = None) -> httpx.Response:
        return await self.client.get(path, headers=li_headers(token or self.token))

    async def image(self, owner: str, data: bytes = b"\xff\xd8jpeg-bytes\xff\xd9") -> str:
        r = await self.post(
            "/rest/images?action=initializeUpload", {"initializeUploadRequest": {"owner": owner}}
        )
        assert r.status_code == 200, r.text
        value = r.json()["value"]
        put = await self.client.put(value["uploadUrl"], content=data)
        assert put.status_code == 201
        return str(value["image"])


@pytest.fixture
def li(client: httpx.AsyncClient, demo: dict[str, Any]) -> LinkedIn:
    return LinkedIn(client, demo["org_admin_token"])


async def test_image_upload_and_post(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    org = demo["org_urn"]
    r = await li.post(
        "/rest/images?action=initializeUpload", {"initializeUploadRequest": {"owner": org}}
    )
    value = r.json()["value"]
    assert set(value) == {"uploadUrlExpiresAt", "uploadUrl", "image"}
    assert value["uploadUrl"].startswith("http://sandbox/dms-uploads/")
    urn = value["image"]
    status = await li.get(f"/rest/images/{encode_urn(urn)}")
    assert status.json()["status"] == "WAITING_UPLOAD"
    r = await li.post("/rest/posts", post_body(org, "too early", {"media": {"id": urn}}))
    assert r.status_code == 422
    assert "WAITING_UPLOAD" in r.json()["message"]
    assert (await li.client.put(value["uploadUrl"], content=b"\x89PNG...")).status_code == 201
    assert (await li.client.put(value["uploadUrl"], content=b"again")).status_code == 400
    assert (await li.get(f"/rest/images/{encode_urn(urn)}")).json()["status"] == "PROCESSING"
    await ctl.advance_clock(2)
    image = (await li.get(f"/rest/images/{encode_urn(urn)}")).json()
    assert image["status"] == "AVAILABLE"
    assert image["owner"] == org
    r = await li.post("/rest/posts", post_body(org, "with image", {"media": {"id": urn}}))
    assert r.status_code == 201
    assert r.content == b""
    assert r.headers["x-restli-id"].startswith("urn:li:share:")


async def test_member_images_are_write_only_and_foreign_owner_refused(
    li: LinkedIn, demo: dict[str, Any]
) -> None:
    member = li.token = demo["member_token"]
    urn = await li.image(demo["member_urn"])
    r = await li.get(f"/rest/images/{encode_urn(urn)}", member)
    assert r.status_code == 403  # a personal token cannot read /rest/images (research §3.3)
    r = await li.post(
        "/rest/images?action=initializeUpload",
        {"initializeUploadRequest": {"owner": demo["org_urn"]}},  # not this member's org
    )
    assert r.status_code == 403
    r = await li.post("/rest/images?action=initializeUpload", {"owner": demo["member_urn"]})
    assert r.status_code == 422


async def test_multi_image_counts(li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]) -> None:
    org = demo["org_urn"]
    urns = [await li.image(org) for _ in range(2)]
    await ctl.advance_clock(5)
    one = {"multiImage": {"images": [{"id": urns[0]}]}}
    assert (await li.post("/rest/posts", post_body(org, "one", one))).status_code == 422
    many = {"multiImage": {"images": [{"id": urns[0]}] * 21}}
    assert (await li.post("/rest/posts", post_body(org, "21", many))).status_code == 422
    two = {"multiImage": {"images": [{"id": u} for u in urns]}}
    r = await li.post("/rest/posts", post_body(org, "two", two))
    assert r.status_code == 201
    assert r.headers["x-restli-id"].startswith("urn:li:ugcPost:")
    report = await ctl.published(platform="linkedin")
    assert report["posts"][-1]["media"] == urns
    foreign = await li.image(org)
    await ctl.advance_clock(5)
    r = await li.post("/rest/posts", post_body(org, "unknown", {"media": {"id": "urn:li:image:X"}}))
    assert r.status_code == 422
    r = await li.post(
        "/rest/posts",
        post_body(demo["member_urn"], "not mine", {"media": {"id": foreign}}),
        demo["member_token"],
    )
    assert r.status_code == 422  # the org's image in a member's post


async def video_upload(li: LinkedIn, ctl: SandboxControl, owner: str, size: int) -> dict[str, Any]:
    await ctl.set_settings(linkedin_video_part_bytes=1000)
    r = await li.post(
        "/rest/videos?action=initializeUpload",
        {"initializeUploadRequest": {"owner": owner, "fileSizeBytes": size,
                                     "uploadCaptions": False, "uploadThumbnail": False}},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    value: dict[str, Any] = r.json()["value"]
    return value


async def test_video_parts_finalize_and_processing(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    org = demo["org_urn"]
    value = await video_upload(li, ctl, org, 2500)
    parts = value["uploadInstructions"]
    assert [(p["firstByte"], p["lastByte"]) for p in parts] == [
        (0, 999),
        (1000, 1999),
        (2000, 2499),
    ]
    urn = value["video"]
    data = bytes(range(256)) * 10
    bad = await li.client.put(parts[0]["uploadUrl"], content=data[:10])
    assert bad.status_code == 400  # a part must be exactly its byte range
    etags = []
    for part in parts:
        chunk = data[part["firstByte"] : part["lastByte"] + 1]
        put = await li.client.put(part["uploadUrl"], content=chunk)
        assert put.status_code == 200
        etags.append(put.headers["etag"])
    assert len(set(etags)) == 3
    finalize = {"finalizeUploadRequest": {"video": urn, "uploadToken": "", "uploadedPartIds": []}}
    finalize["finalizeUploadRequest"]["uploadedPartIds"] = list(reversed(etags))
    assert (await li.post("/rest/videos?action=finalizeUpload", finalize)).status_code == 400
    finalize["finalizeUploadRequest"]["uploadedPartIds"] = etags
    r = await li.post("/rest/videos?action=finalizeUpload", finalize)
    assert (r.status_code, r.content) == (200, b"")
    video = (await li.get(f"/rest/videos/{encode_urn(urn)}")).json()
    assert video["status"] == "PROCESSING"
    r = await li.post("/rest/posts", post_body(org, "video", {"media": {"id": urn}}))
    assert r.status_code == 422
    await ctl.advance_clock(30)
    assert (await li.get(f"/rest/videos/{encode_urn(urn)}")).json()["status"] == "AVAILABLE"
    r = await li.post("/rest/posts", post_body(org, "video", {"media": {"id": urn}}))
    assert r.status_code == 201
    assert r.headers["x-restli-id"].startswith("urn:li:ugcPost:")


async def test_video_finalize_needs_every_part(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    li.token = demo["member_token"]
    value = await video_upload(li, ctl, demo["member_urn"], 1500)
    first = value["uploadInstructions"][0]
    etag = (await li.client.put(first["uploadUrl"], content=b"x" * 1000)).headers["etag"]
    finalize = {"finalizeUploadRequest": {"video": value["video"], "uploadToken": "",
                                          "uploadedPartIds": [etag]}}  # fmt: skip
    r = await li.post("/rest/videos?action=finalizeUpload", finalize)
    assert r.status_code == 400
    assert "[2]" in r.json()["message"]
    # A member may read the status of their own video (not of their images).
    r = await li.get(f"/rest/videos/{encode_urn(value['video'])}")
    assert r.json()["status"] == "WAITING_UPLOAD"


async def test_processing_failures_and_slow_processing(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    org = demo["org_urn"]
    await ctl.set_publish_fault("processing_error", platform="linkedin", count=1,
                                message="Unsupported image")  # fmt: skip
    failed = await li.image(org)
    await ctl.set_publish_fault("slow_processing", platform="linkedin", delay_ms=60_000, count=1)
    slow = await li.image(org)
    await ctl.advance_clock(5)
    body = (await li.get(f"/rest/images/{encode_urn(failed)}")).json()
    assert (body["status"], body["processingFailureReason"]) == (
        "PROCESSING_FAILED",
        "Unsupported image",
    )
    assert (await li.get(f"/rest/images/{encode_urn(slow)}")).json()["status"] == "PROCESSING"
    await ctl.advance_clock(60)
    assert (await li.get(f"/rest/images/{encode_urn(slow)}")).json()["status"] == "AVAILABLE"
    r = await li.post("/rest/posts", post_body(org, "failed media", {"media": {"id": failed}}))
    assert r.status_code == 422


async def test_posts_by_author_for_organizations_not_members(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    org = demo["org_urn"]
    created = []
    for i in range(3):
        r = await li.post("/rest/posts", post_body(org, f"listed {i}"))
        created.append(r.headers["x-restli-id"])
        await ctl.advance_clock(1)
    url = f"/rest/posts?author={encode_urn(org)}&q=author&count=2&sortBy=CREATED"
    page = (await li.get(url)).json()
    assert [e["id"] for e in page["elements"]] == created[::-1][:2]
    assert page["paging"] == {"start": 0, "count": 2, "links": []}
    element = page["elements"][0]
    assert (element["author"], element["commentary"]) == (org, "listed 2")
    assert isinstance(element["createdAt"], int)
    page = (await li.get(url + "&start=2")).json()
    assert page["elements"][0]["id"] == created[0]
    assert (await li.get(url.replace("CREATED", "SIDEWAYS"))).status_code == 400
    member = f"/rest/posts?author={encode_urn(demo['member_urn'])}&q=author"
    r = await li.get(member, demo["member_token"])
    assert r.status_code == 400
    assert r.json()["message"] == "Member permissions must be used when using member as author"
    closed = await ctl.create_token(
        "linkedin", demo["member_id"], scopes=["w_member_social", "r_member_social"]
    )
    r = await li.get(member, closed["access_token"])
    assert r.status_code == 200
    assert len(r.json()["elements"]) == 10  # the demo member's posts
    no_read = await ctl.create_token(
        "linkedin", demo["org_admin_member_id"], scopes=["w_organization_social"]
    )
    assert (await li.get(url, no_read["access_token"])).status_code == 403


async def test_duplicate_content_names_the_existing_post(
    li: LinkedIn, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    org = demo["org_urn"]
    first = (await li.post("/rest/posts", post_body(org, "Same words"))).headers["x-restli-id"]
    r = await li.post("/rest/posts", post_body(org, "Same words"))
    assert r.status_code == 422
    body = r.json()
    assert body["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    assert body["message"].endswith(f"Content is a duplicate of {first}")
    article = {"article": {"source": "https://example.com", "title": "x"}}
    assert (await li.post("/rest/posts", post_body(org, "Same words", article))).status_code == 201
    await ctl.set_settings(linkedin_duplicate_window_seconds=60)
    await ctl.advance_clock(61)
    assert (await li.post("/rest/posts", post_body(org, "Same words"))).status_code == 201
    counts = await ctl.published_counts(platform="linkedin")
    assert counts[("linkedin", demo["org_id"], "Same words")] == 3


async def test_every_call_needs_the_version_headers(li: LinkedIn, demo: dict[str, Any]) -> None:
    body = {"initializeUploadRequest": {"owner": demo["org_urn"]}}
    headers = {"Authorization": f"Bearer {li.token}", "Content-Type": "application/json"}
    r = await li.client.post("/rest/images?action=initializeUpload", json=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (400, "VERSION_MISSING")
    r = await li.client.post(
        "/rest/posts", json=post_body(demo["org_urn"], "old"),
        headers={**li_headers(li.token, "202401"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (426, "NONEXISTENT_VERSION")
    assert (await li.client.put("/dms-uploads/nope", content=b"x")).status_code == 404
