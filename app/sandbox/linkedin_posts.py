"""LinkedIn ``/rest/posts`` (create, get, delete, ``q=author``) and ``/rest/socialMetadata``.

Creating checks the media (known, the author's, ``AVAILABLE``), refuses content identical to
the author's recent post (422 ``DUPLICATE_POST``, research §3.6) and applies the publishing
faults; listing by author follows research §3.5 (members cannot be listed).
"""

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
    duplicate_post,
    invalid_content,
    not_found,
    unprocessable,
)
from app.sandbox.linkedin_media import usable_media
from app.sandbox.publish_faults import CREATE, LostReply
from app.sandbox.restli import RestliSyntaxError, parse_value, plain
from app.sandbox.state import SandboxState

POSTS = "partnerApiPostsExternal"
REQUIRED = ("author", "commentary", "visibility", "distribution", "lifecycleState")
MAX_IMAGES = 20  # content.multiImage takes 2-20 images
MAX_PAGE = 100


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
    content = data.get("content")
    media = _content_media(state, content, author)
    media_type, urn_kind, link = _media_kind(content)
    owner = state.li_owner(author) or ""
    commentary = str(data.get("commentary", ""))
    _check_duplicate(state, owner, commentary, content)
    fault = state.publish_faults.draw(CREATE, LINKEDIN, owner)
    if fault is not None:
        state.counters.bump("faults", f"publish {fault.kind}")
        if fault.kind == "duplicate":  # names the author's latest post, or (as seen) the member
            latest = _author_posts(state, owner)
            raise duplicate_post(latest[0].id if latest else caller.member.urn)
    post = state.new_post(
        LINKEDIN, owner, media_type=media_type, message=commentary, link=link, urn_kind=urn_kind
    )
    state.li_post_extras[post.id] = {
        "visibility": data["visibility"],
        "distribution": data["distribution"],
        "content": content,
    }
    state.record_published(post, "posts", text=commentary, link=link, media=media)
    reply: tuple[int, Any, dict[str, str]] = (
        201, None, {"x-restli-id": post.id, "x-linkedin-id": post.id}
    )  # fmt: skip
    if fault is not None and fault.kind == "lost_reply":
        raise LostReply(fault, reply)
    return reply


def _content_media(state: SandboxState, content: Any, author: str) -> tuple[str, ...]:
    """The media URNs of ``content``, checked: known, the author's, AVAILABLE; 2-20 images."""
    if not isinstance(content, dict):
        return ()
    urns: list[tuple[str, str]] = []
    if "multiImage" in content:
        multi = content["multiImage"]
        images = multi.get("images") if isinstance(multi, dict) else None
        if not isinstance(images, list) or not 2 <= len(images) <= MAX_IMAGES:
            raise invalid_content(
                "/content/multiImage/images", f"must hold 2 to {MAX_IMAGES} images"
            )
        for i, image in enumerate(images):
            urn = image.get("id") if isinstance(image, dict) else None
            if not isinstance(urn, str) or not urn.startswith("urn:li:image:"):
                raise invalid_content(f"/content/multiImage/images/{i}/id", "an image URN")
            urns.append((urn, f"/content/multiImage/images/{i}/id"))
    elif "media" in content:
        media = content["media"]
        urn = media.get("id") if isinstance(media, dict) else None
        if not isinstance(urn, str) or not urn.startswith("urn:li:"):
            raise invalid_content("/content/media/id", "a media URN is required")
        urns.append((urn, "/content/media/id"))
    for urn, path in urns:
        problem = usable_media(state, urn, author, path)
        if problem is not None:
            raise problem
    return tuple(urn for urn, _ in urns)


def _check_duplicate(state: SandboxState, owner: str, commentary: str, content: Any) -> None:
    """LinkedIn refuses content identical to a recent post by the same author (422)."""
    since = state.now() - state.settings.linkedin_duplicate_window_seconds
    for post in _author_posts(state, owner):
        if post.created_at < since:
            return
        extras = state.li_post_extras.get(post.id)
        if extras is not None and post.message == commentary and extras.get("content") == content:
            raise duplicate_post(post.id)


def _author_posts(state: SandboxState, owner: str) -> list[Post]:
    """The author's live posts, newest first (no edits here: LAST_MODIFIED is CREATED)."""
    now = state.now()
    posts = [
        state.posts[pid]
        for pid in state.posts_by_owner.get(owner, ())
        if not state.posts[pid].deleted and state.posts[pid].created_at <= now
    ]
    posts.sort(key=lambda p: p.created_at, reverse=True)
    return posts


def posts_by_author(state: SandboxState, caller: LinkedInCaller, raw: dict[str, str]) -> Any:
    """``GET /rest/posts?q=author&author=..``: organizations (``r_organization_social``) only;
    a member author answers 400 unless the token has the closed ``r_member_social``."""
    author = plain(raw.get("author", ""))
    owner = state.li_owner(author)
    if owner is None:
        raise bad_request(f"Invalid param author: {author}")
    if author.startswith("urn:li:person:"):
        if not (caller.has("r_member_social") and author == caller.member.urn):
            raise LinkedInError(
                400, None, "Member permissions must be used when using member as author"
            )
    elif not (caller.admin_of(owner) and caller.has("r_organization_social")):
        raise access_denied(POSTS, "FINDER-author", caller.version)
    sort_by = plain(raw.get("sortBy", "LAST_MODIFIED"))
    if sort_by not in ("LAST_MODIFIED", "CREATED"):
        raise bad_request(f"Invalid param sortBy: {sort_by}")
    try:
        start = max(0, int(plain(raw.get("start", "0"))))
        count = max(1, min(MAX_PAGE, int(plain(raw.get("count", "10")))))
    except ValueError:
        raise bad_request("start and count must be integers") from None
    page = _author_posts(state, owner)[start : start + count]  # either order: no edits
    return {
        "elements": [get_post(state, caller, post.id) for post in page],
        "paging": {"start": start, "count": count, "links": []},
    }


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
