"""Instagram publisher over respx: containers, status codes, publish, reconcile, quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from app.core.vocabulary import Provider
from app.integrations.errors import (
    MediaError,
    OutcomeUnknownError,
    QuotaError,
    SpamError,
    TransientError,
)
from app.publishers import Publishers
from app.publishers.base import Quota, ReadyStatus, ReconcileOutcome
from tests.publishers.conftest import (
    GRAPH,
    IG_USER,
    VERSION,
    create_fails,
    form,
    graph_error,
    iso,
    request,
    sent_earlier,
)

MEDIA = f"{GRAPH}/{VERSION}/{IG_USER}/media"
PUBLISH = f"{GRAPH}/{VERSION}/{IG_USER}/media_publish"
JPG = "https://cdn.example.com/a.jpg"


def status(container: str) -> str:
    return f"{GRAPH}/{VERSION}/{container}"


async def test_image_container_publish_and_permalink(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    made = mock.post(MEDIA).mock(return_value=httpx.Response(200, json={"id": "C1"}))
    req = request(Provider.INSTAGRAM, IG_USER, media_urls=(JPG,), link="https://example.com/x")
    prepared = await pub.prepare(req)
    assert prepared == {"kind": "image", "container": "C1"}
    assert form(made.calls.last) | {"access_token": "", "appsecret_proof": ""} == {
        "image_url": JPG,
        "caption": "Hello (world)\n\nhttps://example.com/x",
        "access_token": "",
        "appsecret_proof": "",
    }
    published = mock.post(PUBLISH).mock(return_value=httpx.Response(200, json={"id": "M1"}))
    mock.get(status("M1")).mock(
        return_value=httpx.Response(
            200,
            json={
                "permalink": "https://www.instagram.com/p/abc/",
                "timestamp": "2026-09-01T10:00:05+0000",
            },
        )
    )
    ref = (await pub.create(req, prepared)).primary
    assert (ref.external_id, ref.url) == ("M1", "https://www.instagram.com/p/abc/")
    assert ref.published_at == datetime(2026, 9, 1, 10, 0, 5, tzinfo=UTC)
    assert form(published.calls.last)["creation_id"] == "C1"


async def test_a_failing_read_back_never_fails_the_publish(
    mock: respx.MockRouter, publishers: Publishers
) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    mock.post(PUBLISH).mock(return_value=httpx.Response(200, json={"id": "M1"}))
    mock.get(status("M1")).mock(
        return_value=httpx.Response(400, json=graph_error(4, "x", error_subcode=2207051))
    )
    req = request(Provider.INSTAGRAM, IG_USER, media_urls=(JPG,))
    ref = (await pub.create(req, {"container": "C1"})).primary
    assert (ref.external_id, ref.url) == ("M1", None)


async def test_reel_and_carousel_containers(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    made = mock.post(MEDIA).mock(
        side_effect=[httpx.Response(200, json={"id": i}) for i in ("R1", "K1", "K2", "P1")]
    )
    reel = request(Provider.INSTAGRAM, IG_USER, media_urls=("https://cdn.example.com/v.mov",))
    assert await pub.prepare(reel) == {"kind": "reel", "container": "R1"}
    assert form(made.calls.last)["media_type"] == "REELS"
    assert form(made.calls.last)["video_url"] == "https://cdn.example.com/v.mov"
    children = mock.get(url__regex=rf"{GRAPH}/{VERSION}/K\d").mock(
        return_value=httpx.Response(200, json={"status_code": "FINISHED"})
    )
    carousel = request(
        Provider.INSTAGRAM, IG_USER, media_urls=(JPG, "https://cdn.example.com/v.mp4")
    )
    prepared = await pub.prepare(carousel)
    assert prepared == {"kind": "carousel", "container": "P1", "children": ["K1", "K2"]}
    first, second, parent = (form(c) for c in made.calls[1:])
    assert (first["is_carousel_item"], first["image_url"]) == ("true", JPG)
    assert (second["is_carousel_item"], second["media_type"]) == ("true", "VIDEO")
    assert (parent["media_type"], parent["children"]) == ("CAROUSEL", "K1,K2")
    assert parent["caption"] == "Hello (world)"
    assert children.call_count == 2  # the parent is made from finished children only


@pytest.mark.parametrize(
    ("reply", "state", "error"),
    [
        ({"status_code": "IN_PROGRESS"}, ReadyStatus.WAITING, None),
        ({"status_code": "FINISHED"}, ReadyStatus.READY, None),
        ({"status_code": "PUBLISHED"}, ReadyStatus.PUBLISHED, None),
        ({"status_code": "EXPIRED"}, ReadyStatus.FAILED, TransientError),
        (
            {
                "status_code": "ERROR",
                "status": "Error: Media upload has failed with error code 2207026",
            },
            ReadyStatus.FAILED,
            MediaError,
        ),
        ({"status_code": "ERROR", "status": "Error: 2207001"}, ReadyStatus.FAILED, TransientError),
    ],
)
async def test_container_states(
    mock: respx.MockRouter,
    publishers: Publishers,
    reply: dict[str, str],
    state: ReadyStatus,
    error: type[Exception] | None,
) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    route = mock.get(status("C1")).mock(return_value=httpx.Response(200, json=reply))
    ready = await pub.check_ready(request(Provider.INSTAGRAM, IG_USER), {"container": "C1"})
    assert ready.status is state
    assert route.calls.last.request.url.params["fields"] == "status_code,status"
    if error is None:
        assert ready.error is None
    else:
        assert isinstance(ready.error, error)
        assert type(ready.error) is not MediaError or "2207026" in ready.detail


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            httpx.Response(
                400, json=graph_error(4, "We restrict certain activity", error_subcode=2207051)
            ),
            SpamError,
        ),
        (
            httpx.Response(
                400,
                json=graph_error(9, "You reached maximum number of posts", error_subcode=2207042),
            ),
            QuotaError,
        ),
        (
            httpx.Response(
                400, json=graph_error(9007, "Media ID is not available", error_subcode=2207027)
            ),
            TransientError,
        ),
        (
            httpx.Response(400, json=graph_error(-1, "x", error_subcode=9, is_transient=True)),
            TransientError,
        ),
        (httpx.Response(502, content=b"Bad Gateway"), OutcomeUnknownError),
        (httpx.ReadTimeout("lost"), OutcomeUnknownError),
        (httpx.ConnectTimeout("no"), TransientError),
    ],
)
async def test_publish_errors_by_class(
    mock: respx.MockRouter,
    publishers: Publishers,
    reply: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    req = request(Provider.INSTAGRAM, IG_USER)
    raised = await create_fails(pub, mock.post(PUBLISH), reply, req, {"container": "C1"}, error)
    if isinstance(raised, SpamError):
        assert raised.may_mean_posted


def _media(media_id: str, caption: str, at: datetime) -> dict[str, str]:
    return {
        "id": media_id,
        "caption": caption,
        "timestamp": iso(at),
        "permalink": f"https://www.instagram.com/p/{media_id}/",
    }


async def test_reconcile(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    now = datetime.now(UTC)
    req = sent_earlier(Provider.INSTAGRAM, IG_USER, media_urls=(JPG,))
    container = mock.get(status("C1"))
    listing = mock.get(MEDIA)
    mine = _media("M1", "Hello (world)", now - timedelta(minutes=3))
    old = _media("M0", "Hello (world)", now - timedelta(days=3))

    container.mock(return_value=httpx.Response(200, json={"status_code": "PUBLISHED"}))
    listing.mock(return_value=httpx.Response(200, json={"data": [mine, old]}))
    found = await pub.reconcile(req, {"container": "C1"})
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.ref is not None
    assert found.ref.external_id == "M1"  # the media id, never data[0] blindly

    # Published, but two recent media share the caption: the post exists; keep the container.
    twin = _media("M2", "Hello (world)", now - timedelta(minutes=1))
    listing.mock(return_value=httpx.Response(200, json={"data": [twin, mine]}))
    found = await pub.reconcile(req, {"container": "C1"})
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.ref is not None
    assert found.ref.external_id == "C1"

    container.mock(return_value=httpx.Response(200, json={"status_code": "FINISHED"}))
    listing.mock(return_value=httpx.Response(200, json={"data": [old]}))
    assert (await pub.reconcile(req, {"container": "C1"})).outcome is ReconcileOutcome.ABSENT
    # FINISHED but the media is listed: status reads lag; the post exists.
    listing.mock(return_value=httpx.Response(200, json={"data": [mine]}))
    assert (await pub.reconcile(req, {"container": "C1"})).outcome is ReconcileOutcome.FOUND

    container.mock(return_value=httpx.Response(200, json={"status_code": "ERROR"}))
    assert (await pub.reconcile(req, {"container": "C1"})).outcome is ReconcileOutcome.ABSENT

    container.mock(return_value=httpx.Response(500, json=graph_error(2, "temporary")))
    assert (await pub.reconcile(req, {"container": "C1"})).outcome is ReconcileOutcome.INCONCLUSIVE
    assert (await pub.reconcile(req, {})).outcome is ReconcileOutcome.INCONCLUSIVE


async def test_quota_read_live(mock: respx.MockRouter, publishers: Publishers) -> None:
    pub = publishers.for_provider(Provider.INSTAGRAM)
    route = mock.get(f"{GRAPH}/{VERSION}/{IG_USER}/content_publishing_limit").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"quota_usage": 50, "config": {"quota_total": 50, "quota_duration": 86400}}
                ]
            },
        )
    )
    quota = await pub.quota(request(Provider.INSTAGRAM, IG_USER))
    assert quota == Quota(used=50, total=50, window_s=86400)
    assert quota.exhausted
    assert route.calls.last.request.url.params["fields"] == "quota_usage,config"
    route.mock(return_value=httpx.Response(200, json={"data": [{"quota_usage": 3}]}))
    assert await pub.quota(request(Provider.INSTAGRAM, IG_USER)) is None
