"""Control API: posts, quotas, settings, faults, counters and the clock."""

from __future__ import annotations

from typing import Any

from app.sandbox import seeds
from app.sandbox.clock import graph_time
from app.sandbox.control_base import ControlError, Ctl, endpoint
from app.sandbox.curves import snapshot


@endpoint
async def seed_posts(ctl: Ctl) -> Any:
    age = ctl.field("age_hours", (int, float, list), 0.0)
    if isinstance(age, list) and len(age) != 2:
        raise ControlError(400, "age_hours must be a number or [min, max]")
    ids = seeds.seed_posts(
        ctl.state,
        platform=ctl.field("platform", str, required=True),
        owner_id=str(ctl.field("owner_id", (str, int), required=True)),
        count=ctl.field("count", int, 1),
        media_type=ctl.field("media_type", (str, list)),
        product_type=ctl.field("product_type", str),
        age_hours=age,
        message=ctl.field("message", str),
        link=ctl.field("link", str),
        urn_kind=ctl.field("urn_kind", str, "share"),
    )
    return {"count": len(ids), "ids": ids if ctl.field("return_ids", bool, True) else []}


@endpoint
async def list_posts(ctl: Ctl) -> Any:
    """Posts of one owner (or all), for clients that track what the world contains."""
    owner = ctl.request.query_params.get("owner_id")
    platform = ctl.request.query_params.get("platform")
    include_deleted = ctl.request.query_params.get("include_deleted") == "true"
    state = ctl.state
    ids = state.posts_by_owner.get(owner, []) if owner else list(state.posts)
    out = []
    for post_id in ids:
        post = state.posts[post_id]
        if (platform and post.platform != platform) or (post.deleted and not include_deleted):
            continue
        out.append(
            {
                "id": post.id,
                "platform": post.platform,
                "owner_id": post.owner_id,
                "media_type": post.media_type,
                "product_type": post.product_type,
                "created_at": post.created_at,
                "deleted": post.deleted,
            }
        )
    return {"posts": out}


@endpoint
async def delete_post(ctl: Ctl) -> Any:
    post = ctl.state.delete_post(ctl.request.path_params["post_id"])
    return {"deleted": post.id}


@endpoint
async def post_metrics(ctl: Ctl) -> Any:
    post_id = ctl.request.path_params["post_id"]
    post = ctl.state.posts.get(post_id) or ctl.state.posts.get(
        ctl.state.fb_objects.get(post_id, "")
    )
    if post is None:
        raise KeyError(f"unknown post {post_id}")
    return {
        "id": post.id,
        "deleted": post.deleted,
        "created_time": graph_time(post.created_at),
        **snapshot(post, ctl.state.now()),
    }


@endpoint
async def quotas(ctl: Ctl) -> Any:
    if ctl.request.method == "PUT":
        values = dict(ctl.body)
        app_id = values.pop("app_id", None)
        if app_id is not None:
            app = ctl.state.apps.get(str(app_id))
            if app is None:
                raise KeyError(f"unknown app {app_id}")
            type(ctl.state.quotas)().update(values)  # validates
            app.quotas.update(values)
            return {"app_id": app.id, "quotas": app.quotas}
        ctl.state.quotas.update(values)
    return ctl.state.quotas.to_dict()


@endpoint
async def settings(ctl: Ctl) -> Any:
    if ctl.request.method == "PUT":
        ctl.state.settings.update(ctl.body)
    return ctl.state.settings.to_dict()


@endpoint
async def faults(ctl: Ctl) -> Any:
    if ctl.request.method == "POST":
        rule = ctl.state.faults.add(
            endpoint=ctl.field("endpoint", str, "*"),
            kind=ctl.field("kind", str, required=True),
            rate=float(ctl.field("rate", (int, float), 1.0)),
            latency_ms=ctl.field("latency_ms", int, 0),
            status=ctl.field("status", int, 503),
            method=ctl.field("method", str),
            platform=ctl.field("platform", str),
            remaining=ctl.field("count", int),
            seed=ctl.field("seed", int),
        )
        return rule.to_dict()
    if ctl.request.method == "DELETE":
        rule_id = ctl.request.path_params.get("rule_id")
        return {"removed": ctl.state.faults.clear(int(rule_id) if rule_id else None)}
    return {"faults": [rule.to_dict() for rule in ctl.state.faults.rules]}


@endpoint
async def counters(ctl: Ctl) -> Any:
    if ctl.request.method == "DELETE":
        ctl.state.counters.reset()
        if ctl.field("usage", bool, True):
            ctl.state.usage.reset()
    return ctl.state.counters.to_dict()


@endpoint
async def clock(ctl: Ctl) -> Any:
    if ctl.request.method == "POST":  # advance
        ctl.state.clock.advance(float(ctl.field("seconds", (int, float), required=True)))
    elif ctl.request.method == "PUT":
        if "speed" in ctl.body:
            ctl.state.clock.set_speed(float(ctl.field("speed", (int, float))))
        if "now" in ctl.body:
            ctl.state.clock.set_time(float(ctl.field("now", (int, float))))
    now = ctl.state.now()
    return {"now": graph_time(now), "epoch": now, "speed": ctl.state.clock.speed}


@endpoint
async def save(ctl: Ctl) -> Any:
    saver = ctl.request.app.state.saver
    if saver is None:
        raise ControlError(409, "the sandbox runs without a ctl.state file")
    saver.save_now()
    return {"saved": str(saver.path)}


@endpoint
async def health(ctl: Ctl) -> Any:
    return {"ok": True, "now": graph_time(ctl.state.now())}
