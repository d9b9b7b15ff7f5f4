"""The sandbox's Graph replies have the structure of the real replies in the fixtures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.sandbox import meta_objects
from app.sandbox.client import SandboxControl
from app.sandbox.curves import snapshot
from app.sandbox.meta_auth import appsecret_proof
from app.sandbox.state import SandboxState
from tests.contracts.platform_replies import load
from tests.contracts.sandbox_check import reply_diff
from tests.sandbox.conftest import Graph, posts_of

COUNTS_FIELDS = (
    "reactions.limit(0).summary(true),comments.limit(0).summary(true),shares,permalink_url,"
    "created_time,status_type"
)


def _names(fixture: str) -> str:
    return ",".join(row["name"] for row in load(fixture).body["data"])


def _shared_post(state: SandboxState, page_id: str) -> str:
    """A post with shares (Graph omits ``shares`` at 0) and some reactions."""
    now = state.now()
    for post_id in posts_of(state, page_id):
        snap = snapshot(state.posts[post_id], now)
        if snap["shares"] and snap["comments"] and state.posts[post_id].media_type == "photo":
            return post_id
    raise AssertionError("the demo world has no shared photo post")


async def test_post_insights_lifetime(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    fixture = load("facebook/post_insights_lifetime")
    post = posts_of(sandbox_state, demo["page_id"])[0]
    reply = await graph.get(f"/{post}/insights", demo["page_token"],
                            metric=_names(fixture.name), period="lifetime")  # fmt: skip
    assert reply_diff(fixture, reply) == []


async def test_expanded_insights_field_like_the_capture(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    fixture = load("facebook/post_insights_time_paging_capture")
    post = posts_of(sandbox_state, demo["page_id"])[0]
    fields = "insights.metric(post_clicks,post_media_view).period(lifetime)"
    reply = await graph.get(f"/{post}", demo["page_token"], fields=fields)
    # The capture selected subfields {name, values}: the sandbox may answer more keys per row.
    diff = reply_diff(fixture, reply, extra_keys=True, part=lambda body: body["insights"])
    assert diff == []


async def test_post_counts(graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState) -> None:
    fixture = load("facebook/post_counts")
    post = _shared_post(sandbox_state, demo["page_id"])
    reply = await graph.get(f"/{post}", demo["page_token"], fields=COUNTS_FIELDS)
    assert reply_diff(fixture, reply) == []


async def test_video_insights_like_the_capture(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    fixture = load("facebook/video_insights_capture")
    post = posts_of(sandbox_state, demo["page_id"], media_type="video")[0]
    video = sandbox_state.posts[post].video_id
    fields = f"video_insights.metric({_names_of_edge(fixture.body['video_insights'])})"
    reply = await graph.get(f"/{video}", demo["page_token"], fields=fields)
    assert reply_diff(fixture, reply, extra_keys=True) == []


def _names_of_edge(edge: dict[str, Any]) -> str:
    return ",".join(row["name"] for row in edge["data"])


@pytest.mark.parametrize("product", ["feed", "reels", "story"])
async def test_instagram_media_insights_and_node(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState, product: str
) -> None:
    media = posts_of(sandbox_state, demo["ig_user_id"], product_type=product.upper())[0]
    insights = load(f"instagram/media_insights_{product}")
    reply = await graph.get(f"/{media}/insights", demo["page_token"], metric=_names(insights.name))
    assert reply_diff(insights, reply) == []
    node = load(f"instagram/media_node_{product}")
    fields = ",".join(node.body)
    reply = await graph.get(f"/{media}", demo["page_token"], fields=fields)
    assert reply_diff(node, reply) == []


async def test_batch_with_a_failed_and_a_null_item(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:  # fmt: skip
    fixture = load("graph/batch_partial")
    ok, unrun = posts_of(sandbox_state, demo["page_id"])[:2]
    token = demo["page_token"]
    items = [
        {"method": "GET", "relative_url": f"{unrun}?fields=id"},  # the fault nulls the first
        {"method": "GET", "relative_url": f"{ok}?fields=reactions.limit(0).summary(true)"},
        {"method": "GET", "relative_url": f"{demo['page_id']}_999?fields=id"},
    ]
    form = {"access_token": token, "batch": json.dumps(items),
            "appsecret_proof": appsecret_proof(demo["meta_app_secret"], token)}  # fmt: skip
    await ctl.set_batch_null(count=1)
    reply = await client.post("/v24.0/", data=form)
    diff = reply_diff(fixture, reply, sandbox_part=lambda body: [*body[1:], body[0]])
    assert diff == []


async def test_invalid_metric_error(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post = posts_of(sandbox_state, demo["page_id"])[0]
    reply = await graph.get(f"/{post}/insights", demo["page_token"], metric="post_engaged_users")
    assert reply_diff(load("graph/error_100_invalid_metric"), reply) == []


@pytest.mark.parametrize(
    ("name", "subcode"),
    [("error_190_460_password_changed", 460), ("error_190_463_expired", None),
     ("error_190_467_logged_out", 467)],
)  # fmt: skip
async def test_token_errors(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], name: str, subcode: int | None
) -> None:
    token = demo["page_token"]
    if subcode is None:
        await ctl.expire_token(token)
    else:
        await ctl.revoke_token(token, subcode=subcode)
    reply = await graph.get(f"/{demo['page_id']}", token, fields="id")
    assert reply_diff(load(f"graph/{name}"), reply) == []


@pytest.mark.parametrize(
    ("name", "quota", "token_key"),
    [("error_4_app_limit", "meta_app_calls_per_hour", "meta_user_token"),
     ("error_17_user_limit", "meta_user_calls_per_hour", "meta_user_token"),
     ("error_32_page_limit", "meta_page_calls_per_day", "meta_user_token"),
     ("error_80001_pages_buc", "meta_page_calls_per_day", "page_token")],
)  # fmt: skip
async def test_throttling_errors_and_usage_headers(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], name: str, quota: str,
    token_key: str,
) -> None:  # fmt: skip
    quotas: dict[str, int] = {quota: 1}
    await ctl.set_quotas(app_id=None, **quotas)
    token = demo[token_key]
    for _ in range(2):
        reply = await graph.get(f"/{demo['page_id']}", token, fields="id,name")
    assert reply_diff(load(f"graph/{name}"), reply) == []


async def test_deleting_a_key_from_a_sandbox_reply_is_reported(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The structural check can fail: a sandbox that drifts from the real reply is caught."""
    fixture = load("facebook/post_counts")
    post = _shared_post(sandbox_state, demo["page_id"])
    reply = await graph.get(f"/{post}", demo["page_token"], fields=COUNTS_FIELDS)
    assert reply_diff(fixture, reply) == []
    mutated = reply.json()
    del mutated["comments"]["summary"]["total_count"]
    assert reply_diff(fixture, httpx.Response(200, json=mutated)) == [
        "$.comments.summary.total_count: missing"
    ]
    # And the same drift made inside the sandbox itself (its reactions summary loses a key).
    original = meta_objects._Renderer._edge_summary

    def drop_total(self: Any, spec: Any, total: int, summary: dict[str, Any]) -> Any:
        out = original(self, spec, total, summary)
        out.get("summary", {}).pop("total_count", None)
        return out

    monkeypatch.setattr(meta_objects._Renderer, "_edge_summary", drop_total)
    drifted = await graph.get(f"/{post}", demo["page_token"], fields=COUNTS_FIELDS)
    assert reply_diff(fixture, drifted) == [
        "$.reactions.summary.total_count: missing",
        "$.comments.summary.total_count: missing",
    ]
    # Time paging too: a sandbox that stops sending it fails the lifetime-insights check.
    lifetime = load("facebook/post_insights_lifetime")
    plain = await graph.get(f"/{post}/insights", demo["page_token"],
                            metric=_names(lifetime.name), period="lifetime")  # fmt: skip
    without_paging = {"data": plain.json()["data"]}
    assert reply_diff(lifetime, httpx.Response(200, json=without_paging)) == ["$.paging: missing"]
