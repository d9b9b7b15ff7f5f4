"""LinkedIn publisher over respx: every content kind, each error class, reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from app.core.vocabulary import Provider
from app.integrations.errors import (
    DuplicateError,
    MediaError,
    OutcomeUnknownError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.publishers import Publishers
from app.publishers.base import ReadyStatus, ReconcileOutcome
from tests.publishers.conftest import (
    LI,
    MEMBER,
    ORG,
    TOKEN,
    create_fails,
    media_route,
    request,
    sent_earlier,
)

URN = "urn:li:share:6844785523593134080"
UPLOAD = "https://www.linkedin.com/dms-uploads/opaque-1"
PNG = b"\x89PNG" + b"p" * 100


def created(urn: str = URN) -> httpx.Response:
    return httpx.Response(201, headers={"x-restli-id": urn})


async def test_text_post_body_headers_and_urn(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    route = mock.post(f"{LI}/rest/posts").mock(return_value=created())
    req = request(Provider.LINKEDIN, ORG, text="Hi (all) @team_x")
    prepared = await pub.prepare(req)
    assert (await pub.check_ready(req, prepared)).status is ReadyStatus.READY
    result = await pub.create(req, prepared)
    assert result.primary.external_id == URN
    assert result.primary.url == f"https://www.linkedin.com/feed/update/{URN}/"
    sent = route.calls.last.request
    assert sent.headers["LinkedIn-Version"] == "202610"
    assert sent.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    body = json.loads(sent.content)
    assert body["author"] == ORG
    assert body["commentary"] == r"Hi \(all\) \@team\_x"
    assert body["lifecycleState"] == "PUBLISHED"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert "content" not in body


async def test_link_is_an_article(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    route = mock.post(f"{LI}/rest/posts").mock(return_value=created())
    req = request(Provider.LINKEDIN, MEMBER, link="https://example.com/a")
    await pub.create(req, await pub.prepare(req))
    body = json.loads(route.calls.last.request.content)
    assert body["content"] == {
        "article": {"source": "https://example.com/a", "title": "https://example.com/a"}
    }
    assert body["commentary"] == r"Hello \(world\)"


def _image_upload(mock: respx.MockRouter, n: int) -> respx.Route:
    mock.post(f"{LI}/rest/images", params={"action": "initializeUpload"}).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "value": {
                        "uploadUrl": f"{UPLOAD}{i}",
                        "image": f"urn:li:image:C{i}",
                        "uploadUrlExpiresAt": 1770541529250,
                    }
                },
            )
            for i in range(n)
        ]
    )
    return mock.put(url__startswith=UPLOAD).mock(return_value=httpx.Response(201))


async def test_one_image_and_many(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    for i in range(3):
        media_route(mock, f"https://cdn.example.com/{i}.png", PNG, "image/png")
    puts = _image_upload(mock, 3)
    posts = mock.post(f"{LI}/rest/posts").mock(return_value=created())
    req = request(Provider.LINKEDIN, MEMBER, media_urls=("https://cdn.example.com/0.png",))
    prepared = await pub.prepare(req)
    assert (prepared["kind"], prepared["images"]) == ("image", ["urn:li:image:C0"])
    assert "uploaded_at" in prepared  # a member's images wait out a grace period
    assert puts.calls.last.request.content == PNG
    assert puts.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    await pub.create(req, prepared)
    assert json.loads(posts.calls.last.request.content)["content"] == {
        "media": {"id": "urn:li:image:C0"}
    }
    req = request(
        Provider.LINKEDIN,
        MEMBER,
        media_urls=("https://cdn.example.com/1.png", "https://cdn.example.com/2.png"),
    )
    prepared = await pub.prepare(req)
    await pub.create(req, prepared)
    assert json.loads(posts.calls.last.request.content)["content"] == {
        "multiImage": {"images": [{"id": "urn:li:image:C1"}, {"id": "urn:li:image:C2"}]}
    }


async def test_organization_images_wait_for_available(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    status = mock.get(url__startswith=f"{LI}/rest/images/").mock(
        side_effect=[
            httpx.Response(200, json={"id": "urn:li:image:C0", "status": "PROCESSING"}),
            httpx.Response(200, json={"id": "urn:li:image:C0", "status": "AVAILABLE"}),
        ]
    )
    req = request(Provider.LINKEDIN, ORG, media_urls=("https://cdn.example.com/0.png",))
    prepared = {"kind": "image", "images": ["urn:li:image:C0"]}
    assert (await pub.check_ready(req, prepared)).status is ReadyStatus.WAITING
    assert (await pub.check_ready(req, prepared)).status is ReadyStatus.READY
    assert status.calls.last.request.url.raw_path == b"/rest/images/urn%3Ali%3Aimage%3AC0"


async def test_video_parts_finalize_and_processing(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    video = bytes(range(256)) * 40  # 10,240 bytes
    media_route(mock, "https://cdn.example.com/v.mp4", video, "video/mp4")
    init = mock.post(f"{LI}/rest/videos", params={"action": "initializeUpload"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "value": {
                    "video": "urn:li:video:V1",
                    "uploadToken": "",
                    "uploadInstructions": [
                        {"uploadUrl": f"{UPLOAD}p1", "firstByte": 0, "lastByte": 4095},
                        {"uploadUrl": f"{UPLOAD}p2", "firstByte": 4096, "lastByte": 10239},
                    ],
                }
            },
        )
    )
    p1 = mock.put(f"{UPLOAD}p1").mock(return_value=httpx.Response(200, headers={"ETag": "e-1"}))
    p2 = mock.put(f"{UPLOAD}p2").mock(return_value=httpx.Response(200, headers={"ETag": "e-2"}))
    fin = mock.post(f"{LI}/rest/videos", params={"action": "finalizeUpload"}).mock(
        return_value=httpx.Response(200)
    )
    req = request(Provider.LINKEDIN, MEMBER, media_urls=("https://cdn.example.com/v.mp4",))
    prepared = await pub.prepare(req)
    assert prepared == {"kind": "video", "video": "urn:li:video:V1"}
    assert json.loads(init.calls.last.request.content)["initializeUploadRequest"][
        "fileSizeBytes"
    ] == len(video)
    assert p1.calls.last.request.content == video[:4096]
    assert p2.calls.last.request.content == video[4096:]
    assert json.loads(fin.calls.last.request.content)["finalizeUploadRequest"] == {
        "video": "urn:li:video:V1",
        "uploadToken": "",
        "uploadedPartIds": ["e-1", "e-2"],
    }
    mock.get(url__startswith=f"{LI}/rest/videos/").mock(
        side_effect=[
            httpx.Response(200, json={"status": "PROCESSING"}),
            httpx.Response(200, json={"status": "AVAILABLE"}),
            httpx.Response(
                200, json={"status": "PROCESSING_FAILED", "processingFailureReason": "bad codec"}
            ),
        ]
    )
    assert (await pub.check_ready(req, prepared)).status is ReadyStatus.WAITING
    assert (await pub.check_ready(req, prepared)).status is ReadyStatus.READY
    failed = await pub.check_ready(req, prepared)
    assert failed.status is ReadyStatus.FAILED
    assert isinstance(failed.error, MediaError)
    assert "bad codec" in failed.detail
    route = mock.post(f"{LI}/rest/posts").mock(return_value=created("urn:li:ugcPost:77"))
    assert (await pub.create(req, prepared)).primary.external_id == "urn:li:ugcPost:77"
    assert json.loads(route.calls.last.request.content)["content"] == {
        "media": {"id": "urn:li:video:V1"}
    }


async def test_upload_url_on_another_host_gets_no_token(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    media_route(mock, "https://cdn.example.com/0.png", PNG, "image/png")
    mock.post(f"{LI}/rest/images", params={"action": "initializeUpload"}).mock(
        return_value=httpx.Response(
            200, json={"value": {"uploadUrl": "https://evil.example/u", "image": "urn:li:image:X"}}
        )
    )
    evil = mock.put("https://evil.example/u")
    req = request(Provider.LINKEDIN, MEMBER, media_urls=("https://cdn.example.com/0.png",))
    with pytest.raises(TransientError, match="another host"):
        await pub.prepare(req)
    assert not evil.called


async def test_wrong_media_type_is_a_media_error(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    media_route(mock, "https://cdn.example.com/0.png", b"<html>", "text/html")
    req = request(Provider.LINKEDIN, MEMBER, media_urls=("https://cdn.example.com/0.png",))
    with pytest.raises(MediaError, match="text/html"):
        await pub.prepare(req)


DUPLICATE = {
    "errorDetailType": "com.linkedin.common.error.BadRequest",
    "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
    "Content is a duplicate of urn:li:share:7295588489876647936",
    "errorDetails": {
        "inputErrors": [
            {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
        ]
    },
    "status": 422,
}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (httpx.Response(422, json=DUPLICATE), DuplicateError),
        (httpx.Response(401, json={"status": 401, "message": "Invalid access token"}), TokenError),
        (httpx.Response(429, json={"status": 429, "message": "Too many"}), ThrottledError),
        (httpx.Response(500, json={"status": 500, "message": "Internal"}), OutcomeUnknownError),
        (httpx.Response(201), OutcomeUnknownError),  # accepted, but no x-restli-id
        (httpx.ConnectError("refused"), TransientError),
        (httpx.ConnectTimeout("slow"), TransientError),
        (httpx.ReadTimeout("lost"), OutcomeUnknownError),
        (httpx.RemoteProtocolError("reset"), OutcomeUnknownError),
    ],
)
async def test_create_errors_by_class(
    mock: respx.MockRouter,
    publishers: Publishers,
    reply: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    req = request(Provider.LINKEDIN, ORG)
    route = mock.post(f"{LI}/rest/posts")
    raised = await create_fails(pub, route, reply, req, {"kind": "text"}, error)
    if isinstance(raised, DuplicateError):
        assert raised.existing_id == "urn:li:share:7295588489876647936"
        assert raised.may_mean_posted
    if isinstance(raised, OutcomeUnknownError) and not isinstance(reply, Exception):
        assert raised.http_status in (500, 201)


def _post(urn: str, text: str, created: datetime, author: str = ORG) -> dict[str, object]:
    ms = int(created.timestamp() * 1000)
    return {
        "id": urn,
        "author": author,
        "commentary": text,
        "createdAt": ms,
        "lastModifiedAt": ms,
        "lifecycleState": "PUBLISHED",
        "visibility": "PUBLIC",
    }


async def test_reconcile_organization(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    now = datetime.now(UTC)
    req = sent_earlier(Provider.LINKEDIN, ORG)
    listing = mock.get(url__startswith=f"{LI}/rest/posts")
    old = _post("urn:li:share:1", r"Hello \(world\)", now - timedelta(days=2))
    mine = _post(URN, r"Hello \(world\)", now - timedelta(minutes=4))
    other = _post("urn:li:share:3", "Something else", now - timedelta(minutes=3))
    listing.mock(return_value=httpx.Response(200, json={"elements": [other, mine, old]}))
    found = await pub.reconcile(req, {"kind": "text"})
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.ref is not None
    assert found.ref.external_id == URN
    sent = listing.calls.last.request
    assert sent.headers["X-RestLi-Method"] == "FINDER"
    assert "author=urn%3Ali%3Aorganization%3A2414183" in str(sent.url)
    assert "sortBy=CREATED" in str(sent.url)

    listing.mock(return_value=httpx.Response(200, json={"elements": [other, old]}))
    assert (await pub.reconcile(req, {})).outcome is ReconcileOutcome.ABSENT
    # Just sent: the listing may not show it yet.
    fresh = request(Provider.LINKEDIN, ORG, create_sent_at=now - timedelta(seconds=5))
    assert (await pub.reconcile(fresh, {})).outcome is ReconcileOutcome.INCONCLUSIVE

    twin = _post("urn:li:share:9", "Hello (world)", now - timedelta(minutes=2))
    listing.mock(return_value=httpx.Response(200, json={"elements": [twin, mine]}))
    assert (await pub.reconcile(req, {})).outcome is ReconcileOutcome.INCONCLUSIVE

    listing.mock(return_value=httpx.Response(503, json={"status": 503}))
    failed = await pub.reconcile(req, {})
    assert failed.outcome is ReconcileOutcome.INCONCLUSIVE
    assert "listing" in failed.reason


async def test_members_cannot_be_listed(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.LINKEDIN)
    listing = mock.get(url__startswith=f"{LI}/rest/posts")
    outcome = await pub.reconcile(request(Provider.LINKEDIN, MEMBER), {})
    assert outcome.outcome is ReconcileOutcome.INCONCLUSIVE
    assert "member" in outcome.reason
    assert not listing.called
    assert await pub.quota(request(Provider.LINKEDIN, MEMBER)) is None
