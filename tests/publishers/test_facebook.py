"""Facebook Page publisher over respx: each content kind, error classes, reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from app.core.vocabulary import Provider
from app.integrations.errors import (
    DuplicateError,
    OutcomeUnknownError,
    PolicyError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.graph_batch import appsecret_proof
from app.publishers import Publishers
from app.publishers.base import ReconcileOutcome
from tests.publishers.conftest import (
    GRAPH,
    PAGE_ID,
    TOKEN,
    VERSION,
    create_fails,
    form,
    graph_error,
    iso,
    request,
    sent_earlier,
)

FEED = f"{GRAPH}/{VERSION}/{PAGE_ID}/feed"
PHOTOS = f"{GRAPH}/{VERSION}/{PAGE_ID}/photos"
VIDEOS = f"{GRAPH}/{VERSION}/{PAGE_ID}/videos"
POST = f"{PAGE_ID}_9876543210"
LISTING = f"{GRAPH}/{VERSION}/{PAGE_ID}/published_posts"


async def test_text_and_link_post(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    route = mock.post(FEED).mock(return_value=httpx.Response(200, json={"id": POST}))
    req = request(Provider.FACEBOOK, PAGE_ID, link="https://example.com/a")
    prepared = await pub.prepare(req)
    result = await pub.create(req, prepared)
    assert result.primary.external_id == POST
    assert result.primary.url == f"https://www.facebook.com/{POST}"
    sent = form(route.calls.last)
    assert sent["message"] == "Hello (world)"
    assert sent["link"] == "https://example.com/a"
    assert sent["access_token"] == TOKEN
    assert sent["appsecret_proof"] == appsecret_proof(TOKEN, "app-secret-xyz")
    assert TOKEN not in str(route.calls.last.request.url)  # credentials in the body only


async def test_one_photo_records_the_feed_post(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    route = mock.post(PHOTOS).mock(
        return_value=httpx.Response(200, json={"id": "555", "post_id": POST})
    )
    req = request(
        Provider.FACEBOOK,
        PAGE_ID,
        media_urls=("https://cdn.example.com/a.jpg",),
        link="https://example.com/a",
    )
    prepared = await pub.prepare(req)
    assert prepared == {"kind": "photo"}
    assert (await pub.create(req, prepared)).primary.external_id == POST
    sent = form(route.calls.last)
    assert sent["url"] == "https://cdn.example.com/a.jpg"
    assert sent["caption"] == "Hello (world)\n\nhttps://example.com/a"  # no link card with media


async def test_several_photos_unpublished_then_attached(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    uploads = mock.post(PHOTOS).mock(
        side_effect=[httpx.Response(200, json={"id": "p1"}), httpx.Response(200, json={"id": "p2"})]
    )
    feed = mock.post(FEED).mock(return_value=httpx.Response(200, json={"id": POST}))
    urls = ("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png")
    req = request(Provider.FACEBOOK, PAGE_ID, media_urls=urls)
    prepared = await pub.prepare(req)
    assert prepared == {"kind": "photos", "photo_ids": ["p1", "p2"]}
    assert [form(c)["published"] for c in uploads.calls] == ["false", "false"]
    assert [form(c)["url"] for c in uploads.calls] == list(urls)
    assert not feed.called  # nothing visible before create
    await pub.create(req, prepared)
    sent = form(feed.calls.last)
    assert json.loads(sent["attached_media[0]"]) == {"media_fbid": "p1"}
    assert json.loads(sent["attached_media[1]"]) == {"media_fbid": "p2"}


async def test_video_returns_the_video_id(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    route = mock.post(VIDEOS).mock(return_value=httpx.Response(200, json={"id": "10155"}))
    req = request(Provider.FACEBOOK, PAGE_ID, media_urls=("https://cdn.example.com/v.mp4",))
    prepared = await pub.prepare(req)
    ref = (await pub.create(req, prepared)).primary
    assert (ref.external_id, ref.url) == (
        "10155",
        f"https://www.facebook.com/{PAGE_ID}/videos/10155",
    )
    assert form(route.calls.last)["file_url"] == "https://cdn.example.com/v.mp4"
    assert form(route.calls.last)["description"] == "Hello (world)"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            httpx.Response(
                400,
                json={
                    "error": {
                        "type": "OAuthException",
                        "message": "(#506) Duplicate status message",
                        "code": 506,
                    }
                },
            ),
            DuplicateError,
        ),
        (httpx.Response(400, json=graph_error(368, "deemed abusive")), PolicyError),
        (httpx.Response(400, json=graph_error(190, "Error validating access token")), TokenError),
        (httpx.Response(400, json=graph_error(32, "Page request limit reached")), ThrottledError),
        (httpx.Response(500, json=graph_error(1, "unknown error")), OutcomeUnknownError),
        (httpx.Response(200, content=b"<html>proxy</html>"), OutcomeUnknownError),
        (httpx.Response(200, json={"success": True}), OutcomeUnknownError),
        (httpx.ConnectError("refused"), TransientError),
        (httpx.PoolTimeout("busy"), TransientError),
        (httpx.ReadTimeout("lost"), OutcomeUnknownError),
        (httpx.ReadError("reset"), OutcomeUnknownError),
    ],
)
async def test_create_errors_by_class(
    mock: respx.MockRouter,
    publishers: Publishers,
    reply: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    req = request(Provider.FACEBOOK, PAGE_ID)
    await create_fails(pub, mock.post(FEED), reply, req, {"kind": "feed"}, error)


def _listed(post_id: str, message: str, created: datetime) -> dict[str, str]:
    return {
        "id": post_id,
        "message": message,
        "created_time": iso(created),
        "permalink_url": f"https://www.facebook.com/{post_id}",
    }


async def test_reconcile_published_posts(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    now = datetime.now(UTC)
    req = sent_earlier(Provider.FACEBOOK, PAGE_ID)
    listing = mock.get(LISTING)
    mine = _listed(POST, "Hello (world)", now - timedelta(minutes=4))
    other = _listed(f"{PAGE_ID}_2", "Other", now - timedelta(minutes=3))
    older = _listed(f"{PAGE_ID}_1", "Hello (world)", now - timedelta(days=1))
    # Two pages: the match is on the second, reached through paging.next.
    listing.mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [other],
                    "paging": {"next": f"{LISTING}?after=CUR&access_token=LEAK"},
                },
            ),
            httpx.Response(200, json={"data": [mine, older]}),
        ]
    )
    found = await pub.reconcile(req, {"kind": "feed"})
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.ref is not None
    assert found.ref.external_id == POST
    first, second = listing.calls
    assert first.request.url.params["since"] == str(
        int((req.attempt_started_at - timedelta(minutes=2)).timestamp())
    )
    assert second.request.url.params["after"] == "CUR"
    assert second.request.url.params["access_token"] == TOKEN  # ours, never the listed one

    listing.mock(side_effect=None, return_value=httpx.Response(200, json={"data": [other, older]}))
    assert (await pub.reconcile(req, {"kind": "feed"})).outcome is ReconcileOutcome.ABSENT
    twin = _listed(f"{PAGE_ID}_3", "Hello (world)", now - timedelta(minutes=1))
    listing.mock(return_value=httpx.Response(200, json={"data": [mine, twin]}))
    assert (await pub.reconcile(req, {"kind": "feed"})).outcome is ReconcileOutcome.INCONCLUSIVE
    listing.mock(return_value=httpx.Response(400, json=graph_error(190, "expired")))
    assert (await pub.reconcile(req, {"kind": "feed"})).outcome is ReconcileOutcome.INCONCLUSIVE


async def test_reconcile_video_by_description(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.FACEBOOK)
    now = datetime.now(UTC)
    req = request(
        Provider.FACEBOOK,
        PAGE_ID,
        media_urls=("https://cdn.example.com/v.mp4",),
        create_sent_at=now - timedelta(minutes=3),
    )
    mock.get(f"{GRAPH}/{VERSION}/{PAGE_ID}/videos").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [{"id": "10155", "description": "Hello (world)", "created_time": iso(now)}]
            },
        )
    )
    found = await pub.reconcile(req, {"kind": "video"})
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.ref is not None
    assert found.ref.external_id == "10155"
    assert await pub.quota(req) is None
