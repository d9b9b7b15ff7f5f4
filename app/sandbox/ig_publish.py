"""Instagram content publishing: containers that take time to process, ``media_publish`` and
the rolling publishing quota.

Sources: docs/design/publishing-platform-facts.md §2 (container ``status_code`` values, 9007 /
2207027 for an unfinished container, the error-codes table for 2207003 / 2207020 / 2207032 /
2207042, the ``content_publishing_limit`` reply with ``config``).
"""

from __future__ import annotations

from typing import Any

from app.sandbox.entities import INSTAGRAM, Container
from app.sandbox.fields import split_list
from app.sandbox.graph_errors import GraphError, invalid_parameter, missing_permission
from app.sandbox.meta_objects import container_status
from app.sandbox.meta_publish import after_create, create_fault, media_fetch_fails
from app.sandbox.meta_router import Call, parse_specs, route
from app.sandbox.publish_faults import PROCESSING

DAY = 86_400.0
DEFAULT_ERROR_SUBCODE = 2207026  # "unsupported video format" (research §2.2's example status)


def _require_ig_publisher(call: Call) -> None:
    if "instagram_content_publish" not in call.caller.token.scopes:
        raise missing_permission("instagram_content_publish")


def _media(call: Call) -> tuple[str, str, str, tuple[str, ...], float]:
    """(media type, product type, media URL, children, processing seconds) of a new container."""
    state, params = call.state, call.req.params
    kind = params.get("media_type", "").upper()
    image_url, video_url = params.get("image_url"), params.get("video_url")
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
        ready = max(state.containers[c].ready_at for c in children)
        return "CAROUSEL_ALBUM", "FEED", "", children, ready - call.now
    if kind == "REELS":
        if not video_url:
            raise invalid_parameter("The parameter video_url is required")
        return "VIDEO", "REELS", video_url, (), delay
    if kind == "STORIES":
        if not (image_url or video_url):
            raise invalid_parameter("The parameter image_url or video_url is required")
        return "VIDEO" if video_url else "IMAGE", "STORY", video_url or image_url or "", (), delay
    if kind in ("", "IMAGE"):
        if video_url and not image_url:
            raise invalid_parameter("The media_type VIDEO is not supported anymore; use REELS")
        if not image_url:
            raise invalid_parameter("The parameter image_url is required.")
        return "IMAGE", "FEED", image_url, (), delay
    if kind == "VIDEO":
        if params.get("is_carousel_item") != "true":
            raise invalid_parameter("The media_type VIDEO is not supported anymore; use REELS")
        if not video_url:
            raise invalid_parameter("The parameter video_url is required")
        return "VIDEO", "FEED", video_url, (), delay
    raise invalid_parameter(f"Invalid media_type {kind}")


@route("POST", "ig_user", "media")
def create_container(call: Call) -> Any:
    """``POST /{ig-user-id}/media``: a container that processes for a while, then publishes."""
    _require_ig_publisher(call)
    state, params = call.state, call.req.params
    media_type, product, url, children, delay = _media(call)
    if url and media_fetch_fails(call, INSTAGRAM, url):
        raise GraphError(
            -2,
            "It takes too long to download the media.",
            subcode=2207003,
            extra={
                "is_transient": False,
                "error_user_title": "Timeout downloading media",
                "error_user_msg": "A timeout occured while downloading the media. Try again.",
            },
        )
    error_subcode = next(
        (state.containers[c].error_subcode for c in children if state.containers[c].error_subcode),
        None,
    )
    rule = state.publish_faults.draw(PROCESSING, INSTAGRAM, call.node.id)
    if rule is not None:
        state.counters.bump("faults", f"publish {rule.kind}")
        delay += rule.delay_ms / 1000.0
        if rule.kind == "processing_error":
            error_subcode = rule.subcode or DEFAULT_ERROR_SUBCODE
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
        error_subcode=error_subcode,
    )
    state.containers[container.id] = container
    state.touch()
    return {"id": container.id}


def publishes_in_window(call: Call, ig_user_id: str) -> list[float]:
    log = call.state.ig_publishes.setdefault(ig_user_id, [])
    log[:] = [t for t in log if call.now - t < DAY]
    return log


def _quota(call: Call) -> int:
    return call.caller.app.quotas.get("ig_publish_per_day", call.state.quotas.ig_publish_per_day)


def _refuse_unpublishable(status: str) -> None:
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
        raise GraphError(
            -2,
            "The media you are trying to access has expired. Please try to upload again.",
            subcode=2207020,
            extra={"is_transient": False},
        )
    if status == "ERROR":
        raise GraphError(
            -1,
            "Create media fail, please try to re-create media",
            subcode=2207032,
            extra={"is_transient": False},
        )
    if status == "PUBLISHED":
        raise invalid_parameter("The media container has already been published.", 2207006)


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
    _refuse_unpublishable(container_status(state, container, call.now))
    log = publishes_in_window(call, call.node.id)
    if len(log) >= _quota(call):
        raise GraphError(
            9,
            "Application request limit reached",
            subcode=2207042,
            extra={
                "is_transient": False,
                "error_user_title": "Maximum number of posts reached",
                "error_user_msg": "You reached maximum number of posts that is allowed to be "
                "published by Content Publishing API.",
            },
        )
    fault = create_fault(call, INSTAGRAM)
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
    media = (
        tuple(state.containers[c].media_url for c in container.children)
        if container.children
        else (container.media_url,)
    )
    state.record_published(post, "media_publish", text=container.caption, media=media)
    return after_create(fault, {"id": post.id})


@route("GET", "ig_user", "content_publishing_limit")
def content_publishing_limit(call: Call) -> Any:
    item: dict[str, Any] = {"quota_usage": len(publishes_in_window(call, call.node.id))}
    specs = parse_specs(call.req.params)
    if specs and any(spec.name == "config" for spec in specs):
        item["config"] = {"quota_total": _quota(call), "quota_duration": int(DAY)}
    return {"data": [item]}
