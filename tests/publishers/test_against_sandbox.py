"""Every real publisher, every content kind, against the in-process platform sandbox.

The respx tests pin each publisher to documented reply shapes; these run the whole flow —
prepare, check_ready until READY, create, reconcile — against the sandbox's emulation of the
platform (its own validation of bodies, uploads, containers and processing), and count what
was created on the platform's side (the sandbox's published log), not in Postmeter's tables.

Media processing is shortened through the sandbox settings; a WAITING answer moves the
sandbox clock (and the LinkedIn publisher's, which times a member's image grace) on by the
publisher's retry interval instead of sleeping. Instagram images are
ready at once because the carousel's `prepare` waits for its children with a real sleep.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.platforms.base import IdRule
from app.integrations.platforms.facebook import FACEBOOK
from app.integrations.platforms.instagram import INSTAGRAM
from app.integrations.platforms.linkedin import LINKEDIN
from app.publishers import linkedin
from app.publishers.base import (
    PostResult,
    Prepared,
    Publisher,
    PublishRequest,
    ReadyStatus,
    ReconcileOutcome,
)
from app.sandbox.client import SandboxControl
from app.services.platform_clients import PublishingClients, build_publishing_clients
from tests.sandbox_harness import sandbox_settings

pytestmark = pytest.mark.sandbox

# No LinkedIn "little text" reserved character in it: the log keys the commentary as sent.
MARKER = r"case=([a-z0-9-]+);"
VIDEO_BYTES = 100_000  # three upload parts of the part size set below
SANDBOX_SETTINGS: dict[str, float] = {
    "linkedin_image_processing_seconds": 2.0,
    "linkedin_video_processing_seconds": 12.0,
    "linkedin_video_part_bytes": 40_000,
    "ig_image_processing_seconds": 0.0,
    "ig_video_processing_seconds": 8.0,
}
MAX_POLLS = 20


@dataclass(frozen=True)
class Case:
    """One content kind on one account kind, and what the platform should answer."""

    name: str
    account: str  # fb, ig, li-org, li-member
    link: bool = False
    media: tuple[str, ...] = ()  # media file names the sandbox serves
    id_shape: str = ""  # a regular expression the created id must match (besides the rule)
    waits: bool = False  # processing takes sandbox time: check_ready says WAITING first
    logged: str = ""  # the id's shape in the published log when not the created id itself


SHARE = r"urn:li:share:\d+"
UGC = r"urn:li:ugcPost:\d+"
PAGE_POST = r"\d+_\d+"
NUMERIC = r"\d+"

CASES = [
    *(
        case
        for who in ("li-org", "li-member")
        for case in (
            Case(f"{who}-text", who, id_shape=SHARE),
            Case(f"{who}-article", who, link=True, id_shape=SHARE),
            # Organizations poll the image status; members wait out a grace period.
            Case(f"{who}-image", who, media=("one.jpg",), id_shape=SHARE, waits=True),
            Case(f"{who}-multi-image", who, media=("one.jpg", "two.png"), id_shape=UGC, waits=True),
            Case(f"{who}-video", who, media=("clip.mp4",), id_shape=UGC, waits=True),
        )
    ),
    Case("fb-text", "fb", id_shape=PAGE_POST),
    Case("fb-link", "fb", link=True, id_shape=PAGE_POST),
    Case("fb-photo", "fb", media=("one.jpg",), id_shape=PAGE_POST),
    Case("fb-photos", "fb", media=("one.jpg", "two.jpg"), id_shape=PAGE_POST),
    # A video id (the log holds the video's feed post id: `logged`).
    Case("fb-video", "fb", media=("clip.mp4",), id_shape=NUMERIC, logged=PAGE_POST),
    Case("ig-image", "ig", media=("one.jpg",), id_shape=NUMERIC),
    Case("ig-carousel", "ig", media=("one.jpg", "two.jpg"), id_shape=NUMERIC),
    Case("ig-reel", "ig", media=("clip.mp4",), id_shape=NUMERIC, waits=True),
]

ACCOUNTS = {
    # key: (provider, account id key, token key, sandbox platform, published-log owner key)
    "fb": (Provider.FACEBOOK, "page_id", "page_token", "facebook", "page_id"),
    "ig": (Provider.INSTAGRAM, "ig_user_id", "page_token", "instagram", "ig_user_id"),
    "li-org": (Provider.LINKEDIN, "org_urn", "org_admin_token", "linkedin", "org_urn"),
    "li-member": (Provider.LINKEDIN, "member_urn", "member_token", "linkedin", "member_urn"),
}
POST_ID_RULES: dict[Provider, IdRule] = {
    Provider.FACEBOOK: FACEBOOK.post_id,
    Provider.INSTAGRAM: INSTAGRAM.post_id,
    Provider.LINKEDIN: LINKEDIN.post_id,
}


class Clocks:
    """The sandbox clock and the LinkedIn publisher's, moved on together."""

    def __init__(self, ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
        self._ctl = ctl
        self._offset = timedelta()
        monkeypatch.setattr(linkedin, "utcnow", lambda: utcnow() + self._offset)

    async def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)
        await self._ctl.advance_clock(seconds)


@pytest.fixture
def clocks(ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> Clocks:
    return Clocks(ctl, monkeypatch)


@pytest.fixture
async def publishing(
    tmp_path: Path, sandbox_transport: httpx.ASGITransport, ctl: SandboxControl
) -> AsyncIterator[PublishingClients]:
    await ctl.set_settings(**SANDBOX_SETTINGS)
    # The transport replaces the guarded media connection too (no socket in-process); the
    # flag says what a real deployment fetching from the sandbox's loopback address needs.
    settings = sandbox_settings(tmp_path, "sqlite:///unused.sqlite", MEDIA_ALLOW_PRIVATE_URLS=True)
    clients = build_publishing_clients(settings, transport=sandbox_transport)
    yield clients
    await clients.aclose()


def request_for(case: Case, demo: dict[str, Any], ctl: SandboxControl) -> PublishRequest:
    provider, account, token, _, _ = ACCOUNTS[case.account]
    media = tuple(
        ctl.media_url(name, size=VIDEO_BYTES if name.endswith(".mp4") else None)
        for name in case.media
    )
    return PublishRequest(
        target_id=uuid.uuid4(),
        provider=provider,
        account_external_id=str(demo[account]),
        token=str(demo[token]),
        text=f"case={case.name}; Launch notes (v2) [draft_1] & more",
        link=f"https://example.com/posts/{case.name}" if case.link else None,
        media_urls=media,
        attempt_started_at=utcnow() - timedelta(seconds=5),
    )


async def publish(
    publisher: Publisher, req: PublishRequest, clocks: Clocks
) -> tuple[Prepared, PostResult, int]:
    """prepare -> check_ready until READY (the sandbox clock moved on while WAITING) -> create;
    returns how many WAITING answers came first."""
    prepared = await publisher.prepare(req)
    waited = 0
    for _ in range(MAX_POLLS):
        state = await publisher.check_ready(req, prepared)
        if state.status is ReadyStatus.READY:
            break
        assert state.status is ReadyStatus.WAITING, state.detail
        assert state.retry_after_s > 0
        waited += 1
        await clocks.advance(state.retry_after_s)
    else:
        pytest.fail(f"not ready after {MAX_POLLS} polls")
    return prepared, await publisher.create(req, prepared), waited


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_publish_creates_one_post_that_reconcile_finds(
    case: Case,
    publishing: PublishingClients,
    ctl: SandboxControl,
    clocks: Clocks,
    demo: dict[str, Any],
) -> None:
    req = request_for(case, demo, ctl)
    publisher = publishing.publisher_for(req.provider)
    prepared, result, waited = await publish(publisher, req, clocks)

    ref = result.primary
    assert len(result.external_refs) == 1
    assert ref.provider is req.provider
    assert re.fullmatch(case.id_shape, ref.external_id), ref.external_id
    POST_ID_RULES[req.provider].check(req.provider, ref.external_id)
    assert (waited > 0) is case.waits, f"{waited} WAITING answers"

    _, _, _, platform, owner = ACCOUNTS[case.account]
    log = await ctl.published(platform=platform, owner_id=str(demo[owner]), marker=MARKER)  # type: ignore[arg-type]
    assert log["total"] == 1, log["posts"]
    [target] = log["targets"]
    assert (target["key"], target["count"]) == (case.name, 1)
    [post] = log["posts"]
    if case.logged:
        assert re.fullmatch(case.logged, post["post_id"]), post
        assert post["endpoint"] == "videos"
    else:
        assert target["post_ids"] == [ref.external_id]
    assert len(post["media"]) == len(case.media)
    assert post["link"] == req.link

    reconciled = await publisher.reconcile(req, prepared)
    if case.account == "li-member":  # a member's posts cannot be listed, by design
        assert reconciled.outcome is ReconcileOutcome.INCONCLUSIVE, reconciled.reason
        assert reconciled.ref is None
    else:
        assert reconciled.outcome is ReconcileOutcome.FOUND, reconciled.reason
        assert reconciled.ref is not None
        assert reconciled.ref.external_id == ref.external_id
