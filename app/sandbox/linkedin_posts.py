"""LinkedIn ``/rest/posts`` (create, get, delete) and ``/rest/socialMetadata``."""

from __future__ import annotations

import json
from typing import Any

from app.sandbox.curves import LI_REACTIONS, snapshot
from app.sandbox.entities import LINKEDIN, Post
from app.sandbox.linkedin_auth import LinkedInCaller
from app.sandbox.linkedin_errors import (
    LinkedInError,
    access_denied,
    bad_request,
    not_found,
    unprocessable,
)
from app.sandbox.restli import RestliSyntaxError, parse_value
from app.sandbox.state import SandboxState

POSTS = "partnerApiPostsExternal"
REQUIRED = ("author", "commentary", "visibility", "distribution", "lifecycleState")


def _media_kind(content: Any) -> tuple[str, str, str | None]:
    """(media type, URN kind, article link) of a post's ``content``."""
    if not isinstance(content, dict):
        return "text", "share", None
    if "article" in content:
        article = content["article"]
        link = article.get("source") if isinstance(article, dict) else None
        return "article", "share", link if isinstance(link, str) else None
    if "multiImage" in content:
        return "multi_image", "ugcPost", None
    media = content.get("media")
    media_id = media.get("id", "") if isinstance(media, dict) else ""
    if isinstance(media_id, str) and media_id.startswith("urn:li:video:"):
        return "video", "ugcPost", None
    if isinstance(media_id, str) and media_id.startswith("urn:li:document:"):
        return "document", "share", None
    return "image", "share", None


def _can_author(caller: LinkedInCaller, author: str) -> bool:
    if author == caller.member.urn:
        return caller.has("w_member_social")
    if author.startswith("urn:li:organization:"):
        return caller.admin_of(author.rsplit(":", 1)[1]) and caller.has("w_organization_social")
    return False


def create_post(
    state: SandboxState, caller: LinkedInCaller, body: bytes
) -> tuple[int, Any, dict[str, str]]:
    """``POST /rest/posts`` -> 201, the new URN in ``x-restli-id``, empty body."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object")
    for name in REQUIRED:
        if name not in data:
            raise unprocessable(f"/{name}")
    author = data["author"]
    if not isinstance(author, str) or state.li_owner(author) is None:
        raise LinkedInError(
            422, "UNPROCESSABLE_ENTITY", f"ERROR :: /author :: invalid author {author}\n"
        )
    if not _can_author(caller, author):
        raise access_denied(POSTS, "CREATE", caller.version)
    if data["lifecycleState"] != "PUBLISHED":
        raise LinkedInError(
            422, "UNPROCESSABLE_ENTITY", "ERROR :: /lifecycleState :: only PUBLISHED is supported\n"
        )
    media_type, urn_kind, link = _media_kind(data.get("content"))
    owner = state.li_owner(author) or ""
    post = state.new_post(
        LINKEDIN,
        owner,
        media_type=media_type,
        message=str(data.get("commentary", "")),
        link=link,
        urn_kind=urn_kind,
    )
    state.li_post_extras[post.id] = {
        "visibility": data["visibility"],
        "distribution": data["distribution"],
        "content": data.get("content"),
    }
    return 201, None, {"x-restli-id": post.id, "x-linkedin-id": post.id}


def _author_urn(state: SandboxState, post: Post) -> str:
    if post.owner_id in state.li_orgs:
        return f"urn:li:organization:{post.owner_id}"
    return f"urn:li:person:{post.owner_id}"


def _can_read(state: SandboxState, caller: LinkedInCaller, post: Post) -> bool:
    if post.owner_id in state.li_orgs:
        return caller.admin_of(post.owner_id)
    return post.owner_id == caller.member.id


def _readable_post(state: SandboxState, caller: LinkedInCaller, urn: str, method: str) -> Post:
    post = state.live_post(urn)
    if post is None or post.platform != LINKEDIN:
        raise not_found(f"Post {urn} not found")
    if not _can_read(state, caller, post):
        raise access_denied(POSTS, method, caller.version)
    return post


def get_post(state: SandboxState, caller: LinkedInCaller, urn: str) -> dict[str, Any]:
    post = _readable_post(state, caller, urn, "GET")
    extras = state.li_post_extras.get(post.id, {})
    created = int(post.created_at * 1000)
    out: dict[str, Any] = {
        "id": post.id,
        "author": _author_urn(state, post),
        "commentary": post.message,
        "visibility": extras.get("visibility", "PUBLIC"),
        "distribution": extras.get(
            "distribution",
            {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
        ),
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": False},
        "isReshareDisabledByAuthor": False,
        "createdAt": created,
        "publishedAt": created,
        "lastModifiedAt": created,
    }
    content = extras.get("content")
    if content is None and post.media_type == "article" and post.link:
        content = {"article": {"source": post.link, "title": post.message[:60]}}
    if content is not None:
        out["content"] = content
    return out


def delete_post(state: SandboxState, caller: LinkedInCaller, urn: str) -> None:
    post = _readable_post(state, caller, urn, "DELETE")
    state.delete_post(post.id)


def _social_metadata(state: SandboxState, post: Post) -> dict[str, Any]:
    snap = snapshot(post, state.now())
    by_type = snap["reactions_by_type"]
    comments = snap["comments"]
    return {
        "reactionSummaries": {
            kind: {"reactionType": kind, "count": by_type[kind]}
            for kind in LI_REACTIONS
            if by_type.get(kind)
        },
        "commentsState": "OPEN",
        "commentSummary": {"count": comments, "topLevelCount": comments * 4 // 5},
        "entity": post.id,
    }


def social_metadata(state: SandboxState, caller: LinkedInCaller, urn: str) -> dict[str, Any]:
    post = _readable_post(state, caller, urn, "GET")
    return _social_metadata(state, post)


def social_metadata_batch(
    state: SandboxState, caller: LinkedInCaller, raw_ids: str
) -> dict[str, Any]:
    """``GET /rest/socialMetadata?ids=List(..)``: per-entity results and errors."""
    try:
        ids = parse_value(raw_ids)
    except RestliSyntaxError as exc:
        raise bad_request(f"Invalid param ids: {exc}") from None
    if not isinstance(ids, list):
        raise bad_request("Param ids must be a List of URNs")
    results: dict[str, Any] = {}
    statuses: dict[str, int] = {}
    errors: dict[str, Any] = {}
    for urn in ids:
        try:
            results[urn] = social_metadata(state, caller, urn)
            statuses[urn] = 200
        except LinkedInError as err:
            statuses[urn] = err.status
            errors[urn] = err.body()
    return {"results": results, "statuses": statuses, "errors": errors}
