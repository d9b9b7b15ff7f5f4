"""Graph batch requests and multi-id reads."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app.sandbox.curves import snapshot
from app.sandbox.meta_auth import appsecret_proof
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import Graph, posts_of


def _batch_form(demo: dict[str, Any], items: list[dict[str, Any]], **extra: str) -> dict[str, str]:
    token = demo["page_token"]
    return {
        "access_token": token,
        "appsecret_proof": appsecret_proof(demo["meta_app_secret"], token),
        "batch": json.dumps(items),
        **extra,
    }


async def test_batch_with_partial_failure(
    client: httpx.AsyncClient, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    ok_post, other = posts_of(sandbox_state, demo["page_id"])[:2]
    items = [
        {"method": "GET", "relative_url": f"{ok_post}/insights?metric=post_media_view"},
        {"method": "GET", "relative_url": f"v24.0/{other}/insights?metric=post_impressions"},
        {"method": "GET", "relative_url": "999_1?fields=message"},
        {"method": "GET", "relative_url": f"{other}?fields=reactions.limit(0).summary(true)"},
    ]
    r = await client.post("/v24.0/", data=_batch_form(demo, items))
    assert r.status_code == 200
    replies = r.json()
    assert [reply["code"] for reply in replies] == [200, 400, 400, 200]
    assert all(isinstance(reply["body"], str) for reply in replies)
    assert json.loads(replies[0]["body"])["data"][0]["name"] == "post_media_view"
    assert json.loads(replies[1]["body"])["error"]["code"] == 100
    assert json.loads(replies[2]["body"])["error"]["error_subcode"] == 33
    assert {"name": "Content-Type", "value": "text/javascript; charset=UTF-8"} in replies[0][
        "headers"
    ]


async def test_batch_items_count_as_calls(
    client: httpx.AsyncClient, ctl: Any, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    items = [{"method": "GET", "relative_url": f"{post_id}?fields=message"}] * 5
    await client.post("/v24.0/", data=_batch_form(demo, items, include_headers="false"))
    counters = await ctl.counters()
    assert counters["by_endpoint"]["meta GET /{id}"] == 5
    assert counters["by_endpoint"]["meta POST / (batch)"] == 1
    assert counters["by_token"][demo["page_token"]] == 5


async def test_batch_over_50_is_rejected(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    items = [{"method": "GET", "relative_url": "me"}] * 51
    r = await client.post("/v24.0/", data=_batch_form(demo, items))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 100
    assert "Maximum batch size is 50" in error["message"]


async def test_batch_without_headers_and_per_item_token(
    client: httpx.AsyncClient, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["ig_user_id"])[0]
    user = demo["meta_user_token"]
    proof = appsecret_proof(demo["meta_app_secret"], user)
    items = [
        {
            "method": "GET",
            "relative_url": (
                f"{post_id}?fields=like_count&access_token={user}&appsecret_proof={proof}"
            ),
        }
    ]
    r = await client.post("/v24.0/", data=_batch_form(demo, items, include_headers="false"))
    (reply,) = r.json()
    assert "headers" not in reply
    expected = snapshot(sandbox_state.posts[post_id], sandbox_state.now())["reactions"]
    assert json.loads(reply["body"])["like_count"] == expected


async def test_multi_id(graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState) -> None:
    ids = posts_of(sandbox_state, demo["page_id"])[:3]
    r = await graph.get(
        "/",
        demo["page_token"],
        ids=",".join(ids),
        fields="message,shares,reactions.limit(0).summary(true)",
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == set(ids)
    assert all("reactions" in item for item in body.values())


async def test_multi_id_unknown_id_fails_whole_request(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    ids = posts_of(sandbox_state, demo["page_id"])[:2] + ["123_456"]
    r = await graph.get("/", demo["page_token"], ids=",".join(ids), fields="message")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 100
    assert "123_456" in error["message"]


async def test_multi_id_limit(graph: Graph, demo: dict[str, Any]) -> None:
    r = await graph.get("/", demo["page_token"], ids=",".join(str(i) for i in range(51)))
    assert r.json()["error"]["code"] == 100
