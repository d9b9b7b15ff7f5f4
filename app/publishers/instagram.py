"""Instagram (professional account) publisher: the container flow of the Graph API.

- `prepare`: a container (invisible, redo-safe): an image (``image_url``), a Reel
  (``media_type=REELS``, ``video_url``), or a carousel — 2-10 children with
  ``is_carousel_item=true``, waited for until ``FINISHED`` (research §2.1: the parent should
  only be made from finished children), then the parent ``media_type=CAROUSEL``;
- `check_ready`: ``GET /{container}?fields=status_code,status`` — ``IN_PROGRESS`` waits,
  ``FINISHED`` is ready, ``ERROR``/``EXPIRED`` failed (the subcode in ``status`` classified),
  ``PUBLISHED`` means already published (never publish again: reconcile);
- `create`: ``POST /{ig-user}/media_publish?creation_id=`` -> the media id (a best-effort
  permalink read after, which never fails the publish);
- `reconcile`: the container's status, then the media among ``/{ig-user}/media`` by exact
  caption and timestamp (never the first item blindly, research §2.7);
- `quota`: ``content_publishing_limit`` read live (25, 50 or 100 a day depending on the
  source: never hard-coded, research §2.5).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.errors import MediaError, PlatformError, TransientError
from app.integrations.platforms import ErrorReply
from app.integrations.platforms.content import PostContent, compose_text, media_kinds
from app.integrations.platforms.instagram import INSTAGRAM
from app.publishers.base import (
    ExternalRef,
    PostResult,
    Prepared,
    PublishRequest,
    Quota,
    ReadyState,
    ReadyStatus,
    Reconciled,
    ReconcileOutcome,
)
from app.publishers.graph import GraphPublishing, parse_graph_time
from app.publishers.matching import Candidate, judge, window_start

_SUBCODE_RE = re.compile(r"\b(\d{7})\b")


def _text(req: PublishRequest) -> str:
    return compose_text(PostContent(req.text, req.link, req.media_urls), INSTAGRAM.content_rules)


class InstagramPublisher:
    provider = Provider.INSTAGRAM

    def __init__(
        self,
        graph: GraphPublishing,
        *,
        poll_seconds: float = 1.0,
        carousel_wait_seconds: float = 300.0,
    ) -> None:
        self._graph = graph
        self._poll_s = poll_seconds
        self._carousel_wait_s = carousel_wait_seconds

    # --- prepare ----------------------------------------------------------------------------

    async def prepare(self, req: PublishRequest) -> Prepared:
        content = PostContent(req.text, req.link, req.media_urls)
        try:
            kinds = media_kinds(content, INSTAGRAM.content_rules)
        except ValueError as exc:
            raise MediaError(f"Instagram does not take {exc}", provider="instagram") from None
        if not kinds:
            raise MediaError("an Instagram post needs an image or video", provider="instagram")
        user, caption = req.account_external_id, _text(req)
        if len(kinds) == 1:
            field = "image_url" if kinds[0] == "image" else "video_url"
            data = {field: req.media_urls[0], "caption": caption}
            if kinds[0] == "video":
                data["media_type"] = "REELS"
            container = await self._container(req.token, user, data)
            return {"kind": "reel" if kinds[0] == "video" else "image", "container": container}
        children = []
        for url, kind in zip(req.media_urls, kinds, strict=True):
            data = {"is_carousel_item": "true"}
            if kind == "image":
                data["image_url"] = url
            else:
                data.update(media_type="VIDEO", video_url=url)
            children.append(await self._container(req.token, user, data))
        await self._wait_finished(req.token, children)
        parent = await self._container(
            req.token,
            user,
            {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption},
        )
        return {"kind": "carousel", "container": parent, "children": children}

    async def _container(self, token: str, user: str, data: dict[str, str]) -> str:
        reply = await self._graph.post(token, f"{user}/media", data)
        if not reply.get("id"):
            raise TransientError("Instagram made no container", provider="instagram")
        return str(reply["id"])

    async def _wait_finished(self, token: str, containers: list[str]) -> None:
        deadline = time.monotonic() + self._carousel_wait_s
        pending = list(containers)
        while pending:
            state = await self._status(token, pending[0])
            if state.error is not None:
                raise state.error
            if state.status is ReadyStatus.READY:
                pending.pop(0)
                continue
            if time.monotonic() >= deadline:
                raise TransientError("carousel items still processing", provider="instagram")
            await asyncio.sleep(self._poll_s)

    # --- ready ------------------------------------------------------------------------------

    async def _status(self, token: str, container: str) -> ReadyState:
        body = await self._graph.get(token, container, {"fields": "status_code,status"})
        code = str(body.get("status_code") or "")
        detail = str(body.get("status") or "")
        if code == "FINISHED":
            return ReadyState.ready()
        if code == "PUBLISHED":
            return ReadyState.published("the container is already published")
        if code == "EXPIRED":
            return ReadyState.failed(
                TransientError(
                    "the container expired (not published within 24 h); a new one is needed",
                    provider="instagram",
                )
            )
        if code == "ERROR":
            return ReadyState.failed(_container_error(detail))
        return ReadyState.waiting(self._poll_s, f"container is {code or 'processing'}")

    async def check_ready(self, req: PublishRequest, prepared: Prepared) -> ReadyState:
        return await self._status(req.token, str(prepared["container"]))

    # --- create -----------------------------------------------------------------------------

    async def create(self, req: PublishRequest, prepared: Prepared) -> PostResult:
        user = req.account_external_id
        reply = await self._graph.create(
            req.token, f"{user}/media_publish", {"creation_id": str(prepared["container"])}
        )
        media_id = str(reply["id"])
        url, published = None, None
        try:  # the post is live: a failing read-back must never fail the publish (§2.4)
            media = await self._graph.get(req.token, media_id, {"fields": "permalink,timestamp"})
            url = str(media["permalink"]) if media.get("permalink") else None
            published = parse_graph_time(media.get("timestamp"))
        except PlatformError:
            pass
        return PostResult((ExternalRef(Provider.INSTAGRAM, media_id, url, published),))

    # --- reconcile --------------------------------------------------------------------------

    async def reconcile(self, req: PublishRequest, prepared: Prepared) -> Reconciled:
        container = prepared.get("container")
        if not container:
            return Reconciled.inconclusive("no container was recorded for this attempt")
        try:
            state = await self._graph.get(req.token, str(container), {"fields": "status_code"})
        except PlatformError as exc:
            return Reconciled.inconclusive(f"reading the container's status failed: {exc}")
        code = str(state.get("status_code") or "")
        if code in ("ERROR", "IN_PROGRESS"):
            return Reconciled.absent(f"the container is {code}: it cannot have been published")
        found = await self._find_media(req)
        if code == "PUBLISHED":
            if found.ref is not None and found.outcome is ReconcileOutcome.FOUND:
                return found
            # Published for sure, but its media id cannot be told: keep the container id.
            ref = ExternalRef(Provider.INSTAGRAM, str(container), None, None)
            why = f"container PUBLISHED; its media id was not found ({found.reason})"
            return Reconciled.found(ref, why)
        if found.outcome is ReconcileOutcome.FOUND:
            return found  # status reads can lag behind (openpost v7.37.0)
        if code == "EXPIRED" and found.outcome is ReconcileOutcome.ABSENT:
            return Reconciled.absent("the container expired unpublished")
        if code == "FINISHED" and found.outcome is ReconcileOutcome.ABSENT:
            return Reconciled.absent("the container is FINISHED and no media has its caption")
        return Reconciled.inconclusive(found.reason or f"container status {code or 'unknown'}")

    async def _find_media(self, req: PublishRequest) -> Reconciled:
        since = window_start(req)
        params = {"fields": "id,caption,timestamp,permalink", "limit": "25"}
        try:
            items, complete = await self._graph.list_since(
                req.token,
                f"{req.account_external_id}/media",
                params,
                since=since,
                created_field="timestamp",
            )
        except PlatformError as exc:
            return Reconciled.inconclusive(f"listing the account's media failed: {exc}")
        candidates = []
        for item in items:
            if not item.get("id"):
                continue
            created = parse_graph_time(item.get("timestamp"))
            url = str(item["permalink"]) if item.get("permalink") else None
            ref = ExternalRef(Provider.INSTAGRAM, str(item["id"]), url, created)
            candidates.append(Candidate(ref, (str(item.get("caption") or ""),), created))
        return judge(candidates, text=_text(req), req=req, complete=complete, now=utcnow())

    # --- quota ------------------------------------------------------------------------------

    async def quota(self, req: PublishRequest) -> Quota | None:
        body = await self._graph.get(
            req.token,
            f"{req.account_external_id}/content_publishing_limit",
            {"fields": "quota_usage,config"},
        )
        rows = body.get("data")
        row: Any = rows[0] if isinstance(rows, list) and rows else {}
        config = row.get("config") if isinstance(row, dict) else None
        if not isinstance(config, dict) or not isinstance(config.get("quota_total"), int):
            return None  # no allowance reported: a 2207042 refusal will say when it is hit
        used = row.get("quota_usage")
        return Quota(
            used=used if isinstance(used, int) else 0,
            total=int(config["quota_total"]),
            window_s=int(config.get("quota_duration") or 86_400),
        )


def _container_error(status: str) -> PlatformError:
    """A container ``ERROR``: its subcode (in ``status``) classified; a processing failure
    that is not worth a new container is a `MediaError`."""
    match = _SUBCODE_RE.search(status)
    message = status or "the container failed"
    body = {"error": {"message": message, "error_subcode": int(match.group(1)) if match else None}}
    error = INSTAGRAM.classify_publish_error(ErrorReply(status=400, body=body))
    if error.transient or isinstance(error, MediaError):
        return error
    return MediaError(message, provider="instagram", subcode=error.subcode)
