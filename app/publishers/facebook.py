"""Facebook Page publisher (Graph API). Meta downloads media URLs itself: nothing is fetched.

- text / link: ``POST /{page}/feed`` (``message``, ``link``) -> ``{page}_{post}``;
- one photo: ``POST /{page}/photos`` (``url``, ``caption``) -> ``post_id`` (the feed post);
- several photos: each ``POST /{page}/photos`` with ``published=false`` (invisible, redo-safe,
  done in `prepare`), then ``POST /{page}/feed`` with ``attached_media``;
- video: ``POST /{page}/videos`` (``file_url``, ``description``) -> a **video id**, not a
  ``{page}_{post}`` id (research §1.4, Q4: how to get the feed post id is not documented). The
  video id is what is recorded: the Facebook home's post-id rule takes it and the insights
  poller reads video nodes.

Reconciliation lists ``/{page}/published_posts`` since the attempt (only the Page's own posts,
unlike ``/feed``, which also holds visitors' posts, so no ``from`` filter is needed) and matches
the exact message; a video is looked up among ``/{page}/videos`` by its description.
Sources: docs/design/publishing-platform-facts.md §1.
"""

from __future__ import annotations

from typing import Any

from app.core import jsonfast
from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.errors import MediaError, PlatformError
from app.integrations.platforms.content import PostContent, compose_text, media_kinds
from app.integrations.platforms.facebook import FACEBOOK
from app.publishers.base import (
    ExternalRef,
    PostResult,
    Prepared,
    PublishRequest,
    Quota,
    ReadyState,
    Reconciled,
)
from app.publishers.graph import GraphPublishing, parse_graph_time
from app.publishers.matching import Candidate, judge, window_start


def _text(req: PublishRequest) -> str:
    return compose_text(PostContent(req.text, req.link, req.media_urls), FACEBOOK.content_rules)


def post_url(post_id: str) -> str:
    return f"https://www.facebook.com/{post_id}"


class FacebookPublisher:
    provider = Provider.FACEBOOK

    def __init__(self, graph: GraphPublishing) -> None:
        self._graph = graph

    async def prepare(self, req: PublishRequest) -> Prepared:
        content = PostContent(req.text, req.link, req.media_urls)
        try:
            kinds = media_kinds(content, FACEBOOK.content_rules)
        except ValueError as exc:
            raise MediaError(f"Facebook does not take {exc}", provider="facebook") from None
        if "video" in kinds:
            return {"kind": "video"}
        if len(kinds) == 1:
            return {"kind": "photo"}
        if kinds:
            page = req.account_external_id
            photo_ids = []
            for url in req.media_urls:
                reply = await self._graph.post(
                    req.token, f"{page}/photos", {"url": url, "published": "false"}
                )
                if not reply.get("id"):
                    raise MediaError("Facebook took no unpublished photo", provider="facebook")
                photo_ids.append(str(reply["id"]))
            return {"kind": "photos", "photo_ids": photo_ids}
        return {"kind": "feed"}

    async def check_ready(self, req: PublishRequest, prepared: Prepared) -> ReadyState:  # noqa: ARG002
        return ReadyState.ready()  # Meta fetches and processes media behind the create call

    async def create(self, req: PublishRequest, prepared: Prepared) -> PostResult:
        page, text, kind = req.account_external_id, _text(req), prepared.get("kind")
        if kind == "video":
            reply = await self._graph.create(
                req.token, f"{page}/videos", {"file_url": req.media_urls[0], "description": text}
            )
            video_id = str(reply["id"])
            url = f"https://www.facebook.com/{page}/videos/{video_id}"
            return PostResult((ExternalRef(Provider.FACEBOOK, video_id, url, None),))
        if kind == "photo":
            reply = await self._graph.create(
                req.token, f"{page}/photos", {"url": req.media_urls[0], "caption": text}
            )
            # post_id is the feed post the insights need; a bare photo id if Graph omits it.
            post_id = str(reply.get("post_id") or reply["id"])
            return PostResult((ExternalRef(Provider.FACEBOOK, post_id, post_url(post_id), None),))
        data: dict[str, str] = {"message": text}
        if kind == "photos":
            for i, photo_id in enumerate(prepared["photo_ids"]):
                data[f"attached_media[{i}]"] = jsonfast.dumps({"media_fbid": photo_id})
        elif req.link:
            data["link"] = req.link
        reply = await self._graph.create(req.token, f"{page}/feed", data)
        post_id = str(reply["id"])
        return PostResult((ExternalRef(Provider.FACEBOOK, post_id, post_url(post_id), None),))

    async def reconcile(self, req: PublishRequest, prepared: Prepared) -> Reconciled:
        page, since = req.account_external_id, window_start(req)
        video = prepared.get("kind") == "video"
        edge, text_field = ("videos", "description") if video else ("published_posts", "message")
        params = {
            "fields": f"id,{text_field},created_time,permalink_url",
            "since": str(int(since.timestamp())),
            "limit": "25",
        }
        try:
            items, complete = await self._graph.list_since(
                req.token, f"{page}/{edge}", params, since=since, created_field="created_time"
            )
        except PlatformError as exc:
            return Reconciled.inconclusive(f"listing the Page's {edge} failed: {exc}")
        candidates = [_candidate(item, text_field) for item in items if item.get("id")]
        return judge(candidates, text=_text(req), req=req, complete=complete, now=utcnow())

    async def quota(self, req: PublishRequest) -> Quota | None:  # noqa: ARG002
        return None  # Pages publish no quota; throttling comes back as codes 4/17/32/80001


def _candidate(item: dict[str, Any], text_field: str) -> Candidate:
    created = parse_graph_time(item.get("created_time"))
    post_id = str(item["id"])
    url = item.get("permalink_url")
    return Candidate(
        ref=ExternalRef(
            Provider.FACEBOOK,
            post_id,
            str(url) if url else post_url(post_id),
            created,
        ),
        texts=(str(item.get(text_field) or ""),),
        created_at=created,
    )
