"""Graph read handlers: node fields, insights, edges and listings."""

from __future__ import annotations

from typing import Any

from app.sandbox.fields import FieldSpec, parse_fields
from app.sandbox.graph_errors import page_token_required
from app.sandbox.meta_objects import GraphNode, find_node, render_node
from app.sandbox.meta_router import Call, metric_list, paged, parse_specs, route


@route("GET", "page", None)
@route("GET", "user", None)
@route("GET", "fb_post", None)
@route("GET", "fb_video", None)
@route("GET", "fb_photo", None)
@route("GET", "ig_user", None)
@route("GET", "ig_media", None)
@route("GET", "ig_container", None)
def read_node(call: Call) -> Any:
    return render_node(
        call.state, call.node, call.caller, parse_specs(call.req.params), call.now, call.req
    )


def _field(call: Call, spec: FieldSpec) -> Any:
    """An edge answered as the same-named field of the node (one set of rules for both forms)."""
    return render_node(call.state, call.node, call.caller, (spec,), call.now, call.req)[spec.alias]


def _edge_as_field(call: Call, name: str) -> Any:
    params = call.req.params
    modifiers = tuple(
        (key, (params[key],)) for key in ("summary", "limit", "type") if key in params
    )
    return _field(call, FieldSpec(name, modifiers))


def _insights_as_field(call: Call, edge: str) -> Any:
    """``/{id}/insights?metric=a,b&period=p`` is ``?fields=insights.metric(a,b).period(p)``."""
    params = call.req.params
    modifiers: list[tuple[str, tuple[str, ...]]] = []
    metrics = metric_list(params)
    if metrics:
        modifiers.append(("metric", tuple(metrics)))
    for key in ("period", "since", "until"):
        if key in params:
            modifiers.append((key, (params[key],)))
    return _field(call, FieldSpec(edge, tuple(modifiers)))


@route("GET", "fb_post", "insights")
def post_insights(call: Call) -> Any:
    return _insights_as_field(call, "insights")


@route("GET", "fb_video", "video_insights")
def post_video_insights(call: Call) -> Any:
    return _insights_as_field(call, "video_insights")


@route("GET", "ig_media", "insights")
def media_insights(call: Call) -> Any:
    return _insights_as_field(call, "insights")


@route("GET", "fb_post", "reactions")
def post_reactions(call: Call) -> Any:
    return _edge_as_field(call, "reactions")


@route("GET", "fb_post", "comments")
def post_comments(call: Call) -> Any:
    return _edge_as_field(call, "comments")


def _owner_posts(call: Call) -> list[GraphNode]:
    state = call.state
    params = call.req.params
    since = float(params["since"]) if params.get("since", "").isdigit() else None
    until = float(params["until"]) if params.get("until", "").isdigit() else None
    nodes = []
    for post_id in reversed(state.posts_by_owner.get(call.node.id, [])):
        post = state.posts[post_id]
        if post.deleted or post.created_at > call.now:
            continue
        if (since is not None and post.created_at < since) or (
            until is not None and post.created_at > until
        ):
            continue
        node = find_node(state, post_id)
        if node is not None:
            nodes.append(node)
    nodes.sort(key=lambda n: n.obj.created_at, reverse=True)
    return nodes


@route("GET", "page", "posts")
@route("GET", "page", "published_posts")
@route("GET", "page", "feed")
@route("GET", "ig_user", "media")
def list_posts(call: Call) -> Any:
    specs = parse_specs(call.req.params)
    return paged(
        call,
        _owner_posts(call),
        lambda node: render_node(call.state, node, call.caller, specs, call.now, call.req),
    )


@route("GET", "ig_media", "children")
def media_children(call: Call) -> Any:
    return {"data": [{"id": child} for child in call.node.obj.children]}


@route("GET", "user", "accounts")
def user_accounts(call: Call) -> Any:
    """``/me/accounts``: the user's pages with page tokens (needs ``pages_show_list``)."""
    state = call.state
    if "pages_show_list" not in call.caller.token.scopes:
        return {"data": []}
    specs = parse_specs(call.req.params) or parse_fields(
        "access_token,category,category_list,name,id,tasks"
    )
    pages = [
        state.pages[pid] for pid in state.meta_users[call.node.id].page_ids if pid in state.pages
    ]
    return paged(
        call,
        pages,
        lambda page: render_node(
            state, GraphNode("page", page.id, page, None), call.caller, specs, call.now
        ),
    )


@route("DELETE", "fb_post", None)
def delete_post(call: Call) -> Any:
    if not call.caller.is_page:
        raise page_token_required()
    call.state.delete_post(call.node.obj.id)
    return {"success": True}
