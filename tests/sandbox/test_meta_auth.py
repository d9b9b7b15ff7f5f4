"""Graph tokens: appsecret_proof, expiry, revocation, OAuth flows, /me/accounts, versions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from app.sandbox.client import SandboxControl
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import Graph, posts_of


async def test_appsecret_proof_missing_and_wrong(graph: Graph, demo: dict[str, Any]) -> None:
    token = demo["page_token"]
    r = await graph.client.get(f"/v24.0/{demo['page_id']}", params={"access_token": token})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 100
    assert "appsecret_proof" in r.json()["error"]["message"]
    r = await graph.get(f"/{demo['page_id']}", token, appsecret_proof="0" * 64)
    error = r.json()["error"]
    assert (error["code"], error["type"]) == (100, "GraphMethodException")
    assert error["message"] == "Invalid appsecret_proof provided in the API argument"
    r = await graph.get(f"/{demo['page_id']}", token, fields="name")
    assert r.status_code == 200
    assert r.json()["name"] == "Postmeter Demo Page"


async def test_bearer_header_token(graph: Graph, demo: dict[str, Any]) -> None:
    token = demo["page_token"]
    proof = graph.params(token, {})["appsecret_proof"]
    r = await graph.client.get(
        f"/v24.0/{demo['page_id']}",
        params={"appsecret_proof": proof},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200


async def test_expired_token_is_190_463(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    user = await ctl.create_meta_user(expires_in=3600)
    r = await graph.get("/me", user["access_token"])
    assert r.status_code == 200
    await ctl.advance_clock(3601)
    r = await graph.get("/me", user["access_token"])
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["error_subcode"], error["type"]) == (
        400,
        190,
        463,
        "OAuthException",
    )
    assert error["message"].startswith("Error validating access token: Session has expired on")


async def test_revoked_user_token_takes_page_tokens(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    revoked = await ctl.revoke_token(demo["meta_user_token"], subcode=460)
    assert demo["page_token"] in revoked
    r = await graph.get(f"/{demo['page_id']}", demo["page_token"])
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 460)
    r = await graph.get("/me", "EAAnotatoken")
    assert r.json()["error"]["code"] == 190


async def test_debug_token(graph: Graph, ctl: SandboxControl, demo: dict[str, Any]) -> None:
    app_token = f"{demo['meta_app_id']}|{demo['meta_app_secret']}"
    r = await graph.client.get(
        "/v24.0/debug_token",
        params={"input_token": demo["meta_user_token"], "access_token": app_token},
    )
    data = r.json()["data"]
    assert data["is_valid"] is True
    assert data["type"] == "USER"
    assert data["app_id"] == demo["meta_app_id"]
    assert data["user_id"] == demo["meta_user_id"]
    assert data["expires_at"] > 0
    assert "read_insights" in data["scopes"]
    r = await graph.client.get(
        "/v24.0/debug_token", params={"input_token": demo["page_token"], "access_token": app_token}
    )
    assert r.json()["data"]["type"] == "PAGE"
    assert r.json()["data"]["expires_at"] == 0
    await ctl.expire_token(demo["meta_user_token"])
    r = await graph.client.get(
        "/v24.0/debug_token",
        params={"input_token": demo["meta_user_token"], "access_token": app_token},
    )
    data = r.json()["data"]
    assert data["is_valid"] is False
    assert data["error"]["subcode"] == 463


async def test_oauth_dialog_code_exchange_and_long_lived(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    redirect = "http://localhost:8000/callback"
    r = await client.get(
        "/v24.0/dialog/oauth",
        params={
            "client_id": demo["meta_app_id"],
            "redirect_uri": redirect,
            "state": "xyz",
            "scope": "pages_show_list,read_insights",
        },
    )
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    exchange = {
        "client_id": demo["meta_app_id"],
        "client_secret": demo["meta_app_secret"],
        "redirect_uri": redirect,
        "code": query["code"][0],
    }
    r = await client.get("/v24.0/oauth/access_token", params=exchange)
    assert r.status_code == 200
    short = r.json()
    assert short["token_type"] == "bearer"
    assert short["expires_in"] <= 7200
    r = await client.get("/v24.0/oauth/access_token", params=exchange)
    assert r.json()["error"]["error_subcode"] == 36009  # a code works once
    r = await client.get(
        "/v24.0/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": demo["meta_app_id"],
            "client_secret": demo["meta_app_secret"],
            "fb_exchange_token": short["access_token"],
        },
    )
    assert r.json()["expires_in"] == 60 * 86400
    r = await client.get("/v24.0/oauth/access_token", params={**exchange, "client_secret": "wrong"})
    assert r.json()["error"]["code"] == 1


async def test_me_accounts_paging_and_instagram_account(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    for i in range(3):
        await ctl.create_page(name=f"Extra {i}", user_id=demo["meta_user_id"])
    user = demo["meta_user_token"]
    r = await graph.get("/me/accounts", user, limit=2)
    body = r.json()
    assert len(body["data"]) == 2
    assert "next" in body["paging"]
    assert body["data"][0]["access_token"] == demo["page_token"]
    assert set(body["paging"]["cursors"]) == {"before", "after"}
    r = await graph.get("/me/accounts", user, limit=2, after=body["paging"]["cursors"]["after"])
    body = r.json()
    assert len(body["data"]) == 2
    assert "next" not in body["paging"]
    r = await graph.get(f"/{demo['page_id']}", user, fields="instagram_business_account,name")
    assert r.json()["instagram_business_account"] == {"id": demo["ig_user_id"]}


async def test_page_posts_listing(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    r = await graph.get(
        f"/{demo['page_id']}/published_posts", demo["page_token"], limit=4, fields="id,created_time"
    )
    body = r.json()
    times = [item["created_time"] for item in body["data"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == 4
    assert len(posts_of(sandbox_state, demo["page_id"])) == 10


async def test_old_graph_version_rejected(graph: Graph, demo: dict[str, Any]) -> None:
    r = await graph.client.get("/v19.0/me", params=graph.params(demo["page_token"], {}))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 2635
    r = await graph.client.get("/v26.0/me", params=graph.params(demo["page_token"], {}))
    assert r.status_code == 200
    assert r.headers["facebook-api-version"] == "v26.0"


async def test_control_tokens(graph: Graph, ctl: SandboxControl, demo: dict[str, Any]) -> None:
    page_token = await ctl.create_token("meta", demo["page_id"], kind="page", expires_in=None)
    assert page_token["kind"] == "page"
    assert page_token["expires_at"] is None
    assert (await graph.get(f"/{demo['page_id']}", page_token["access_token"])).status_code == 200
    narrow = await ctl.create_token(
        "meta", demo["page_id"], kind="page", scopes=["pages_show_list"]
    )
    post = (await graph.get(f"/{demo['page_id']}/posts", narrow["access_token"])).json()["data"][0]
    r = await graph.get(f"/{post['id']}/insights", narrow["access_token"], metric="post_media_view")
    assert r.json()["error"]["code"] == 10
