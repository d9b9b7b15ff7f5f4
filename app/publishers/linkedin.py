"""LinkedIn publisher (organizations and members) over the REST Posts, Images and Videos APIs.

- text / link: ``POST /rest/posts`` (a link with no media is ``content.article``);
- images: each fetched (LinkedIn takes bytes, not URLs), ``initializeUpload`` + one ``PUT``;
  one image is ``content.media``, 2-20 are ``content.multiImage``;
- video: ``initializeUpload`` with the size, ``PUT`` each byte range of ``uploadInstructions``
  to its URL, ``finalizeUpload`` with the parts' ETags in order, wait for ``AVAILABLE``
  (``PROCESSING_FAILED`` is final).

The post's URN is the ``x-restli-id`` header of the 201. Reconciliation lists an
organization's posts (``q=author``, needs ``r_organization_social``); a member's posts cannot
be listed (``r_member_social`` is closed to new apps, research §3.5), so a member's unknown
outcome is INCONCLUSIVE and settles ``unknown``.
Sources: docs/design/publishing-platform-facts.md §3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.core import jsonfast
from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.errors import MediaError, PlatformError, TransientError
from app.integrations.http import RetryPolicy
from app.integrations.linkedin_insights import encode_urn
from app.integrations.platforms.content import PostContent, compose_text, media_kinds
from app.integrations.platforms.linkedin import LINKEDIN, is_post_urn
from app.publishers.base import (
    ExternalRef,
    PostResult,
    Prepared,
    PublishRequest,
    Quota,
    ReadyState,
    Reconciled,
)
from app.publishers.calls import json_object, malformed_create_reply, send_create, send_safe
from app.publishers.matching import Candidate, judge, window_start
from app.publishers.media import FetchedMedia, MediaFetcher, MediaKind

IMAGE_TYPES: Mapping[str, MediaKind] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
}
VIDEO_TYPES: Mapping[str, MediaKind] = {"video/mp4": "video"}

# "Little text": these characters are markup in commentary and must be escaped (research §3.2).
_LITTLE_TEXT_RESERVED = re.compile(r"([\\()\[\]{}<>@|~_*])")
_LITTLE_TEXT_ESCAPE = re.compile(r"\\(.)")
_PAGE_SIZE = 50
_MAX_PAGES = 4
# A member token cannot read /rest/images (research §3.3) and LinkedIn refuses a post whose
# image is still processing, so a member's images get this long after upload before the
# create (undocumented; the sandbox processes in 2 s, peers wait "a grace period").
MEMBER_IMAGE_GRACE_S = 10.0


def escape_little_text(text: str) -> str:
    """`text` as LinkedIn commentary (reserved characters backslash-escaped)."""
    return _LITTLE_TEXT_RESERVED.sub(r"\\\1", text)


def unescape_little_text(text: str) -> str:
    return _LITTLE_TEXT_ESCAPE.sub(r"\1", text)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInPublisher:
    """Publishes to LinkedIn through one pooled client (base URL: ``LINKEDIN_API_BASE``)."""

    provider = Provider.LINKEDIN

    def __init__(
        self,
        http: httpx.AsyncClient,
        media: MediaFetcher,
        *,
        api_version: str,
        retry: RetryPolicy | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self._http = http
        self._media = media
        self._version = api_version
        self._retry = retry or RetryPolicy()
        self._poll_s = poll_seconds
        api_host = http.base_url.host
        # Upload URLs come in replies; the token goes only to LinkedIn's hosts (or the API's).
        self._upload_hosts = (api_host, "linkedin.com")

    # --- plumbing ---------------------------------------------------------------------------

    def _headers(self, token: str, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
            **extra,
        }

    async def _call(
        self, token: str, method: str, url: str, *, json: Any = None, **headers: str
    ) -> httpx.Response:
        content = jsonfast.dumps(json) if json is not None else None
        hdrs = self._headers(token, **headers)
        if content is not None:
            hdrs["Content-Type"] = "application/json"
        return await send_safe(
            self._http,
            lambda: self._http.build_request(method, url, content=content, headers=hdrs),
            provider="linkedin",
            classify=LINKEDIN.classify_publish_error,
            retry=self._retry,
            secrets=(token,),
        )

    async def _action(self, token: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._call(token, "POST", path, json=body)
        return json_object(response, provider="linkedin")

    def _upload_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme in ("https", "http") and any(
            host == allowed or host.endswith(f".{allowed}") for allowed in self._upload_hosts
        )

    async def _put(self, token: str, url: str, data: bytes) -> httpx.Response:
        if not self._upload_allowed(url):
            raise TransientError("LinkedIn gave an upload URL on another host", provider="linkedin")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
        return await send_safe(
            self._http,
            lambda: self._http.build_request("PUT", url, content=data, headers=headers),
            provider="linkedin",
            classify=LINKEDIN.classify_publish_error,
            retry=self._retry,
            secrets=(token, url),  # an upload URL is a credential too
        )

    # --- prepare ----------------------------------------------------------------------------

    async def prepare(self, req: PublishRequest) -> Prepared:
        try:
            kinds = media_kinds(_content(req), LINKEDIN.content_rules)
        except ValueError as exc:
            raise MediaError(f"LinkedIn does not take {exc}", provider="linkedin") from None
        if "video" in kinds:
            return {"kind": "video", "video": await self._upload_video(req, req.media_urls[0])}
        if kinds:
            images = [await self._upload_image(req, url) for url in req.media_urls]
            kind = "image" if len(images) == 1 else "multi_image"
            prepared: Prepared = {"kind": kind, "images": images}
            if LINKEDIN.account_kind(req.account_external_id) != "organization":
                prepared["uploaded_at"] = utcnow().timestamp()  # the grace counts from here
            return prepared
        return {"kind": "article" if req.link else "text"}

    async def _upload_image(self, req: PublishRequest, url: str) -> str:
        async with self._media.fetch(url, accept=IMAGE_TYPES, provider="linkedin") as media:
            init = await self._action(
                req.token,
                "/rest/images?action=initializeUpload",
                {"initializeUploadRequest": {"owner": req.account_external_id}},
            )
            value = init.get("value") or {}
            upload_url, urn = value.get("uploadUrl"), value.get("image")
            if not isinstance(upload_url, str) or not isinstance(urn, str):
                raise TransientError("malformed image upload reply", provider="linkedin")
            await self._put(req.token, upload_url, media.read())
        return urn

    async def _upload_video(self, req: PublishRequest, url: str) -> str:
        async with self._media.fetch(url, accept=VIDEO_TYPES, provider="linkedin") as media:
            init = await self._action(
                req.token,
                "/rest/videos?action=initializeUpload",
                {
                    "initializeUploadRequest": {
                        "owner": req.account_external_id,
                        "fileSizeBytes": media.size,
                        "uploadCaptions": False,
                        "uploadThumbnail": False,
                    }
                },
            )
            value = init.get("value") or {}
            urn, instructions = value.get("video"), value.get("uploadInstructions")
            if not isinstance(urn, str) or not isinstance(instructions, list) or not instructions:
                raise TransientError("malformed video upload reply", provider="linkedin")
            etags = [await self._put_part(req.token, media, part) for part in instructions]
            await self._call(
                req.token,
                "POST",
                "/rest/videos?action=finalizeUpload",
                json={
                    "finalizeUploadRequest": {
                        "video": urn,
                        "uploadToken": value.get("uploadToken") or "",
                        "uploadedPartIds": etags,
                    }
                },
            )
        return urn

    async def _put_part(self, token: str, media: FetchedMedia, part: Any) -> str:
        if not isinstance(part, dict) or not isinstance(part.get("uploadUrl"), str):
            raise TransientError("malformed video upload instruction", provider="linkedin")
        first, last = int(part.get("firstByte", 0)), int(part.get("lastByte", media.size - 1))
        response = await self._put(token, part["uploadUrl"], media.read(first, last))
        etag = str(response.headers.get("etag") or "")
        if not etag:
            raise TransientError("a video part's upload reply had no ETag", provider="linkedin")
        return etag

    # --- ready ------------------------------------------------------------------------------

    async def check_ready(self, req: PublishRequest, prepared: Prepared) -> ReadyState:
        if prepared.get("kind") == "video":
            urns = [str(prepared["video"])]
            path = "/rest/videos/"
        elif prepared.get("images"):
            if LINKEDIN.account_kind(req.account_external_id) != "organization":
                return _member_image_grace(prepared)
            urns, path = [str(u) for u in prepared["images"]], "/rest/images/"
        else:
            return ReadyState.ready()
        for urn in urns:
            body = json_object(
                await self._call(req.token, "GET", f"{path}{encode_urn(urn)}"),
                provider="linkedin",
            )
            status = body.get("status")
            if status == "PROCESSING_FAILED":
                reason = body.get("processingFailureReason") or "no reason given"
                return ReadyState.failed(
                    MediaError(f"LinkedIn could not process {urn}: {reason}", provider="linkedin")
                )
            if status != "AVAILABLE":
                return ReadyState.waiting(self._poll_s, f"{urn} is {status or 'processing'}")
        return ReadyState.ready()

    # --- create -----------------------------------------------------------------------------

    def post_body(self, req: PublishRequest, prepared: Prepared) -> dict[str, Any]:
        """The ``/rest/posts`` body for this request (what create sends)."""
        body: dict[str, Any] = {
            "author": req.account_external_id,
            "commentary": escape_little_text(_text(req)),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        kind = prepared.get("kind")
        if kind == "article" and req.link:
            # The Posts API requires a title; we have none but the URL itself.
            body["content"] = {"article": {"source": req.link, "title": req.link}}
        elif kind == "video":
            body["content"] = {"media": {"id": prepared["video"]}}
        elif kind == "image":
            body["content"] = {"media": {"id": prepared["images"][0]}}
        elif kind == "multi_image":
            body["content"] = {"multiImage": {"images": [{"id": u} for u in prepared["images"]]}}
        return body

    async def create(self, req: PublishRequest, prepared: Prepared) -> PostResult:
        headers = self._headers(req.token, **{"Content-Type": "application/json"})
        request = self._http.build_request(
            "POST", "/rest/posts", content=jsonfast.dumps(self.post_body(req, prepared)),
            headers=headers,
        )  # fmt: skip
        response = await send_create(
            self._http,
            request,
            provider="linkedin",
            classify=LINKEDIN.classify_publish_error,
            secrets=(req.token,),
        )
        urn = response.headers.get("x-restli-id", "")
        if not is_post_urn(urn):
            raise malformed_create_reply("linkedin", response)
        return PostResult((ExternalRef(Provider.LINKEDIN, urn, post_url(urn), None),))

    # --- reconcile --------------------------------------------------------------------------

    async def reconcile(self, req: PublishRequest, prepared: Prepared) -> Reconciled:  # noqa: ARG002
        author = req.account_external_id
        if LINKEDIN.account_kind(author) != "organization":
            return Reconciled.inconclusive(
                "LinkedIn does not let an app list a member's posts (r_member_social is closed)"
            )
        since = window_start(req)
        candidates: list[Candidate] = []
        complete = False
        try:
            for page in range(_MAX_PAGES):
                url = (
                    f"/rest/posts?author={encode_urn(author)}&q=author&count={_PAGE_SIZE}"
                    f"&start={page * _PAGE_SIZE}&sortBy=CREATED"
                )
                body = json_object(
                    await self._call(req.token, "GET", url, **{"X-RestLi-Method": "FINDER"}),
                    provider="linkedin",
                )
                elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
                candidates.extend(_candidate(e) for e in elements if e.get("author") == author)
                older = any((_created(e) or since) < since for e in elements)
                if older or len(elements) < _PAGE_SIZE:
                    complete = True
                    break
        except PlatformError as exc:
            return Reconciled.inconclusive(f"listing the organization's posts failed: {exc}")
        return judge(candidates, text=_text(req), req=req, complete=complete, now=utcnow())

    async def quota(self, req: PublishRequest) -> Quota | None:  # noqa: ARG002
        return None  # LinkedIn's daily limits are not readable; a 429 says when one is hit


def _member_image_grace(prepared: Prepared) -> ReadyState:
    """A member's images cannot be read back: ready once the grace since upload has passed."""
    uploaded = prepared.get("uploaded_at")
    if not isinstance(uploaded, int | float):
        return ReadyState.ready()
    left = uploaded + MEMBER_IMAGE_GRACE_S - utcnow().timestamp()
    if left > 0:
        return ReadyState.waiting(left, "giving LinkedIn time to process the member's images")
    return ReadyState.ready()


def _content(req: PublishRequest) -> PostContent:
    return PostContent(req.text, req.link, req.media_urls)


def _text(req: PublishRequest) -> str:
    return compose_text(_content(req), LINKEDIN.content_rules)


def _created(element: Mapping[str, Any]) -> datetime | None:
    value = element.get("createdAt")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _candidate(element: Mapping[str, Any]) -> Candidate:
    urn = str(element.get("id") or "")
    commentary = str(element.get("commentary") or "")
    created = _created(element)
    return Candidate(
        ref=ExternalRef(Provider.LINKEDIN, urn, post_url(urn), created),
        # Whether the listing returns the escaped little text is undocumented (research Q6).
        texts=(unescape_little_text(commentary), commentary),
        created_at=created,
    )
