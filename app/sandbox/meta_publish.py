"""Graph publishing: page feed/photos/videos and the Instagram container flow."""

from __future__ import annotations

from typing import Any

from app.sandbox.entities import FACEBOOK, INSTAGRAM, Container
from app.sandbox.fields import split_list
from app.sandbox.graph_errors import (
    GraphError,
    invalid_parameter,
    missing_permission,
    publish_permission,
)
from app.sandbox.meta_objects import container_status
from app.sandbox.meta_router import Call, parse_specs, route

DUPLICATE_WINDOW = 3600.0
DAY = 86_400.0


def _require_page_publisher(call: Call) -> None:
    caller = call.caller
    if not caller.is_page or caller.token.subject_id != call.node.id:
        raise publish_permission()
    scopes = caller.token.scopes
    if "pages_manage_posts" not in scopes or "pages_read_engagement" not in scopes:
        raise publish_permission()


def _check_duplicate(call: Call, message: str, link: str | None) -> None:
    """Graph refuses the same status text twice in a short while (code 506)."""
    if not message:
        return
    recent = call.state.fb_recent_messages.setdefault(call.node.id, {})
    key = f"{message}\x00{link or ''}"
    last = recent.get(key)
    if last is not None and call.now - last < DUPLICATE_WINDOW:
        raise GraphError(506, "(#506) Duplicate status message")
    recent[key] = call.now


@route("POST", "page", "feed")
def publish_feed(call: Call) -> Any:
    _require_page_publisher(call)
    params = call.req.params
    message, link = params.get("message", ""), params.get("link")
    if not message and not link:
        raise invalid_parameter("Missing message or attachment")
    _check_duplicate(call, message, link)
    post = call.state.new_post(
        FACEBOOK, call.node.id, media_type="link" if link else "status", message=message, link=link
    )
    return {"id": post.id}


@route("POST", "page", "photos")
def publish_photo(call: Call) -> Any:
    _require_page_publisher(call)
    params = call.req.params
    url = params.get("url")
    if not url:
        raise GraphError(324, "(#324) Requires upload file")
    caption = params.get("caption") or params.get("message", "")
    state = call.state
    post = state.new_post(FACEBOOK, call.node.id, media_type="photo", message=caption)
    photo_id = state.ids.number("fb_object")
    state.fb_objects[photo_id] = post.id
    return {"id": photo_id, "post_id": post.id}


@route("POST", "page", "videos")
def publish_video(call: Call) -> Any:
    _require_page_publisher(call)
    params = call.req.params
    if not params.get("file_url"):
        raise invalid_parameter("The parameter file_url or source is required")
    description = params.get("description", "")
    post = call.state.new_post(FACEBOOK, call.node.id, media_type="video", message=description)
    return {"id": post.video_id}


def _require_ig_publisher(call: Call) -> None:
    if "instagram_content_publish" not in call.caller.token.scopes:
        raise missing_permission("instagram_content_publish")


@route("POST", "ig_user", "media")
def create_container(call: Call) -> Any:
    """``POST /{ig-user-id}/media``: a container that processes for a while, then publishes."""
    _require_ig_publisher(call)
    state, params = call.state, call.req.params
    kind = params.get("media_type", "").upper()
    image_url, video_url = params.get("image_url"), params.get("video_url")
    children: tuple[str, ...] = ()
    settings = state.settings
    delay = (
        settings.ig_video_processing_seconds if video_url else settings.ig_image_processing_seconds
    )
    if kind == "CAROUSEL":
        children = tuple(split_list(params.get("children", "")))
        if not 2 <= len(children) <= 10:
            raise invalid_parameter("The parameter children must contain between 2 and 10 items")
        for child in children:
            item = state.containers.get(child)
            if item is None or item.ig_user_id != call.node.id or not item.is_carousel_item:
                raise invalid_parameter(f"The carousel item {child} is invalid")
        media_type, product, url = "CAROUSEL_ALBUM", "FEED", ""
        delay = max(state.containers[c].ready_at for c in children) - call.now
    elif kind == "REELS":
        if not video_url:
            raise invalid_parameter("The parameter video_url is required")
        media_type, product, url = "VIDEO", "REELS", video_url
    elif kind == "STORIES":
        if not (image_url or video_url):
            raise invalid_parameter("The parameter image_url or video_url is required")
        media_type = "VIDEO" if video_url else "IMAGE"
        product, url = "STORY", video_url or image_url or ""
    elif kind in ("", "IMAGE"):
        if video_url and not image_url:
            raise invalid_parameter("The media_type VIDEO is not supported anymore; use REELS")
        if not image_url:
            raise invalid_parameter("The parameter image_url is required.")
        media_type, product, url = "IMAGE", "FEED", image_url
    elif kind == "VIDEO":
        if not params.get("is_carousel_item") == "true":
            raise invalid_parameter("The media_type VIDEO is not supported anymore; use REELS")
        media_type, product, url = "VIDEO", "FEED", video_url or ""
    else:
        raise invalid_parameter(f"Invalid media_type {kind}")
    container = Container(
        id=state.ids.number("ig_container"),
        ig_user_id=call.node.id,
        media_type=media_type,
        product_type=product,
        media_url=url,
        caption=params.get("caption", ""),
        created_at=call.now,
        ready_at=call.now + max(0.0, delay),
        is_carousel_item=params.get("is_carousel_item") == "true",
        children=children,
    )
    state.containers[container.id] = container
    state.touch()
    return {"id": container.id}


def publishes_in_window(call: Call, ig_user_id: str) -> list[float]:
    log = call.state.ig_publishes.setdefault(ig_user_id, [])
    log[:] = [t for t in log if call.now - t < DAY]
    return log


@route("POST", "ig_user", "media_publish")
def media_publish(call: Call) -> Any:
    _require_ig_publisher(call)
    state = call.state
    creation_id = call.req.params.get("creation_id")
    container = state.containers.get(creation_id or "")
    if container is None or container.ig_user_id != call.node.id or container.is_carousel_item:
        raise invalid_parameter(
            "The parameter creation_id is required and must be a valid container"
        )
    status = container_status(state, container, call.now)
    if status == "IN_PROGRESS":
        raise GraphError(
            9007,
            "Media ID is not available",
            subcode=2207027,
            extra={
                "is_transient": False,
                "error_user_title": "Media Not Ready For Publishing",
                "error_user_msg": "The media is not ready for publishing, please wait for a moment",
            },
        )
    if status == "EXPIRED":
        raise invalid_parameter("The media container has expired. Create a new container.", 2207008)
    if status == "PUBLISHED":
        raise invalid_parameter("The media container has already been published.", 2207006)
    log = publishes_in_window(call, call.node.id)
    quota = call.caller.app.quotas.get("ig_publish_per_day", state.quotas.ig_publish_per_day)
    if len(log) >= quota:
        raise GraphError(
            9,
            "Application request limit reached",
            subcode=2207042,
            extra={
                "error_user_title": "Maximum number of posts reached",
                "error_user_msg": "You reached maximum number of posts that is allowed to be "
                "published by Content Publishing API.",
            },
        )
    children = tuple(state.ids.number("ig_media") for _ in container.children)
    post = state.new_post(
        INSTAGRAM,
        call.node.id,
        media_type=container.media_type,
        product_type=container.product_type,
        message=container.caption,
        children=children,
    )
    container.status_code = "PUBLISHED"
    container.media_id = post.id
    log.append(call.now)
    return {"id": post.id}


@route("GET", "ig_user", "content_publishing_limit")
def content_publishing_limit(call: Call) -> Any:
    quota = call.caller.app.quotas.get("ig_publish_per_day", call.state.quotas.ig_publish_per_day)
    item: dict[str, Any] = {"quota_usage": len(publishes_in_window(call, call.node.id))}
    specs = parse_specs(call.req.params)
    if specs and any(spec.name == "config" for spec in specs):
        item["config"] = {"quota_total": quota, "quota_duration": int(DAY)}
    return {"data": [item]}
