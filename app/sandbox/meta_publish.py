"""Facebook Page publishing: ``/feed`` (text, link, ``attached_media``), ``/photos`` (published
or not), ``/videos`` (``file_url``), with the duplicate rule and the publishing faults.

Sources: docs/design/publishing-platform-facts.md §1 (replies ``{"id": "{page}_{post}"}``,
``{"id", "post_id"}``, ``{"id": video id}``; 506 "Duplicate status message").
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.sandbox.entities import FACEBOOK, FbPhoto, Post
from app.sandbox.graph_errors import GraphError, invalid_parameter, publish_permission
from app.sandbox.meta_objects import GraphNode, render_node
from app.sandbox.meta_router import Call, paged, parse_specs, route
from app.sandbox.publish_faults import CREATE, MEDIA_FETCH, LostReply, PublishFaultRule

_ATTACHED = re.compile(r"attached_media\[(\d+)\]")
MAX_ATTACHED = 30  # unverified: peers send up to 10 photos; Graph's own cap is not documented


def _require_page_publisher(call: Call) -> None:
    caller = call.caller
    if not caller.is_page or caller.token.subject_id != call.node.id:
        raise publish_permission()
    scopes = caller.token.scopes
    if "pages_manage_posts" not in scopes or "pages_read_engagement" not in scopes:
        raise publish_permission()


def duplicate_status() -> GraphError:
    return GraphError(506, "(#506) Duplicate status message")


def create_fault(call: Call, platform: str) -> PublishFaultRule | None:
    """The publishing fault for this create, raising at once the ones that refuse it."""
    rule = call.state.publish_faults.draw(CREATE, platform, call.node.id)
    if rule is None:
        return None
    call.state.counters.bump("faults", f"publish {rule.kind}")
    if rule.kind == "duplicate":
        raise duplicate_status()
    if rule.kind == "policy":
        raise GraphError(
            rule.code or 368,
            rule.message
            or "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
            subcode=rule.subcode,
        )
    return rule


def after_create(rule: PublishFaultRule | None, reply: dict[str, Any]) -> dict[str, Any]:
    """The created post's reply, unless a fault loses it or answers an error instead."""
    if rule is None:
        return reply
    if rule.kind == "lost_reply":
        raise LostReply(rule, (200, reply, {}))
    if rule.kind == "error_after_create":
        raise GraphError(
            rule.code if rule.code is not None else 4,
            rule.message or "Application request limit reached",
            subcode=rule.subcode if rule.subcode is not None else 2207051,
            extra={
                "is_transient": False,
                "error_user_title": "Action is blocked",
                "error_user_msg": "We restrict certain activity to protect our community. "
                "Tell us if you think we made a mistake.",
            },
        )
    return reply


def media_fetch_fails(call: Call, platform: str, url: str) -> bool:
    """Whether Meta "cannot download" ``url`` (a ``media_fetch_error`` fault)."""
    rule = call.state.publish_faults.draw(MEDIA_FETCH, platform, call.node.id, url=url)
    if rule is not None:
        call.state.counters.bump("faults", f"publish {rule.kind}")
    return rule is not None


def _check_duplicate(call: Call, message: str) -> None:
    """Graph refuses the same status text as the Page's previous one for a while (506)."""
    if not message:
        return
    last = call.state.fb_last_message.get(call.node.id)
    if (
        last is not None
        and last[0] == message
        and call.now - float(str(last[1])) < call.state.settings.fb_duplicate_window_seconds
    ):
        raise duplicate_status()


def _attached_media(call: Call) -> list[FbPhoto]:
    """``attached_media`` as a JSON list or as ``attached_media[N]`` form fields."""
    params = call.req.params
    raw: list[tuple[int, str]] = []
    if "attached_media" in params:
        try:
            items = json.loads(params["attached_media"])
        except ValueError:
            raise invalid_parameter("attached_media must be a JSON array") from None
        if not isinstance(items, list):
            raise invalid_parameter("attached_media must be a JSON array")
        raw = [(i, json.dumps(item)) for i, item in enumerate(items)]
    raw += [(int(m.group(1)), v) for k, v in params.items() if (m := _ATTACHED.fullmatch(k))]
    if len(raw) > MAX_ATTACHED:
        raise invalid_parameter(f"attached_media takes at most {MAX_ATTACHED} items")
    photos = []
    for _, value in sorted(raw):
        try:
            item = json.loads(value)
        except ValueError:
            item = None
        fbid = str(item.get("media_fbid", "")) if isinstance(item, dict) else ""
        photo = call.state.fb_photos.get(fbid)
        if photo is None or photo.page_id != call.node.id:
            raise invalid_parameter(f"Invalid media_fbid {fbid or value}")
        if photo.post_id is not None:
            raise GraphError(100, "These photos were already posted.", subcode=1366051)
        photos.append(photo)
    return photos


@route("POST", "page", "feed")
def publish_feed(call: Call) -> Any:
    _require_page_publisher(call)
    state, params = call.state, call.req.params
    message, link = params.get("message", ""), params.get("link")
    photos = _attached_media(call)
    if not message and not link and not photos:
        raise invalid_parameter("Missing message or attachment")
    _check_duplicate(call, message)
    fault = create_fault(call, FACEBOOK)
    media_type = "photo" if photos else "link" if link else "status"
    post = state.new_post(
        FACEBOOK, call.node.id, media_type=media_type, message=message, link=link,
        children=tuple(p.id for p in photos),
    )  # fmt: skip
    for photo in photos:
        photo.post_id = post.id
        state.fb_objects[photo.id] = post.id
    if message:
        state.fb_last_message[call.node.id] = [message, call.now]
    state.record_published(
        post, "feed", text=message, link=link, media=tuple(p.url for p in photos)
    )
    return after_create(fault, {"id": post.id})


@route("POST", "page", "photos")
def publish_photo(call: Call) -> Any:
    _require_page_publisher(call)
    params, state = call.req.params, call.state
    url = params.get("url")
    if not url:
        raise GraphError(324, "(#324) Requires upload file")
    if media_fetch_fails(call, FACEBOOK, url):
        raise GraphError(324, "(#324) Missing or invalid image file")
    photo_id = state.ids.number("fb_object")
    if params.get("published", "true").lower() in ("false", "0"):
        # Unpublished: invisible to followers, attachable to one feed post (redo-safe).
        state.fb_photos[photo_id] = FbPhoto(photo_id, call.node.id, url, call.now)
        state.touch()
        return {"id": photo_id}
    caption = params.get("caption") or params.get("message", "")
    fault = create_fault(call, FACEBOOK)
    post = state.new_post(FACEBOOK, call.node.id, media_type="photo", message=caption)
    state.fb_objects[photo_id] = post.id
    state.record_published(post, "photos", text=caption, media=(url,))
    return after_create(fault, {"id": photo_id, "post_id": post.id})


@route("POST", "page", "videos")
def publish_video(call: Call) -> Any:
    _require_page_publisher(call)
    params = call.req.params
    file_url = params.get("file_url")
    if not file_url:
        raise invalid_parameter("The parameter file_url or source is required")
    if media_fetch_fails(call, FACEBOOK, file_url):
        raise GraphError(351, "(#351) Error in video file: the file could not be downloaded")
    description = params.get("description", "")
    fault = create_fault(call, FACEBOOK)
    post = call.state.new_post(FACEBOOK, call.node.id, media_type="video", message=description)
    call.state.record_published(post, "videos", text=description, media=(file_url,))
    return after_create(fault, {"id": post.video_id})


@route("GET", "page", "videos")
def list_videos(call: Call) -> Any:
    """``/{page-id}/videos``: the Page's videos (newest first) as video nodes."""
    state, params = call.state, call.req.params
    since = float(params["since"]) if params.get("since", "").isdigit() else None
    videos: list[Post] = []
    for post_id in state.posts_by_owner.get(call.node.id, []):
        post = state.posts[post_id]
        if post.deleted or post.video_id is None or post.created_at > call.now:
            continue
        if since is None or post.created_at >= since:
            videos.append(post)
    videos.sort(key=lambda p: p.created_at, reverse=True)
    specs = parse_specs(params)

    def render(post: Post) -> Any:
        node = GraphNode("fb_video", str(post.video_id), post, ("pages", post.owner_id))
        return render_node(state, node, call.caller, specs, call.now, call.req)

    return paged(call, videos, render)
