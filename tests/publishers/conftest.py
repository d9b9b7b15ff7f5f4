"""Publishers over respx-mocked platform hosts (replies shaped as documented: research doc)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
import respx

from app.core.vocabulary import Provider
from app.integrations.http import RetryPolicy, make_async_client
from app.publishers import PublisherClients, Publishers, build_publishers
from app.publishers.base import Prepared, Publisher, PublishRequest
from app.publishers.media import MediaFetcher, MediaLimits

E = TypeVar("E", bound=Exception)

GRAPH = "https://graph.test"
LI = "https://api.linkedin.test"
VERSION = "v25.0"
FAST = RetryPolicy(attempts=2, timeout_s=5, wait_initial_s=0.0, wait_max_s=0.0, wait_jitter_s=0.0)
PAGE_ID = "1234567890"
IG_USER = "17841400000000001"
ORG = "urn:li:organization:2414183"
MEMBER = "urn:li:person:abcDEF123"
TOKEN = "tok-ABCDEF123456"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def publishers() -> AsyncIterator[Publishers]:
    meta = make_async_client(GRAPH, 5.0, 5)
    linkedin = make_async_client(LI, 5.0, 5)
    media_http = make_async_client("", 5.0, 5)
    clients = PublisherClients(
        meta_http=meta,
        linkedin_http=linkedin,
        media=MediaFetcher(media_http, MediaLimits(max_image_bytes=10_000, max_video_bytes=50_000)),
        meta_api_version=VERSION,
        linkedin_api_version="202610",
        meta_app_secret="app-secret-xyz",
        retry=FAST,
    )
    yield build_publishers(clients)
    for client in (meta, linkedin, media_http):
        await client.aclose()


def request(provider: Provider, account: str, **over: Any) -> PublishRequest:
    base = PublishRequest(
        target_id=uuid.uuid4(),
        provider=provider,
        account_external_id=account,
        token=TOKEN,
        text="Hello (world)",
        link=None,
        media_urls=(),
        attempt_started_at=datetime.now(UTC) - timedelta(seconds=30),
    )
    return replace(base, **over)


def sent_earlier(provider: Provider, account: str, **over: Any) -> PublishRequest:
    """A request whose attempt started 5 minutes ago and whose create was sent 4 minutes ago
    (past the listing grace: "not listed" can mean absent)."""
    now = datetime.now(UTC)
    return request(
        provider,
        account,
        attempt_started_at=now - timedelta(minutes=5),
        create_sent_at=now - timedelta(minutes=4),
        **over,
    )


def graph_error(code: int, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}


def form(call: Any) -> dict[str, str]:
    """The form fields a mocked Graph POST was sent."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(call.request.content.decode()))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def media_route(mock: respx.MockRouter, url: str, body: bytes, content_type: str) -> None:
    mock.get(url).mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )


def answer(route: respx.Route, reply: httpx.Response | Exception) -> respx.Route:
    """Mock `route` with a reply, or with a transport failure raised instead."""
    if isinstance(reply, Exception):
        return route.mock(side_effect=reply)
    return route.mock(return_value=reply)


async def create_fails(
    publisher: Publisher,
    route: respx.Route,
    reply: httpx.Response | Exception,
    req: PublishRequest,
    prepared: Prepared,
    error: type[E],
) -> E:
    """The create call answered with `reply` raises `error`: sent once, no token in it."""
    answer(route, reply)
    with pytest.raises(error) as caught:
        await publisher.create(req, prepared)
    assert route.call_count == 1  # never retried inside
    assert TOKEN not in repr(caught.value)
    return caught.value
