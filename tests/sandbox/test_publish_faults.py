"""Publishing faults: replies lost after the post was created (5xx, reset, timeout, in-process
and over a real socket), errors after creation, refusals, rule matching and determinism; the
control API's count of posts created per target; persistence of the publishing world."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from app.sandbox import persistence
from app.sandbox.client import SandboxControl, SandboxControlError
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import Graph, frozen_state, li_headers
from tests.sandbox.test_publish_linkedin import post_body


async def test_lost_reply_as_5xx_after_creating(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    await ctl.set_publish_fault("lost_reply", platform="facebook", status=503, count=1)
    r = await graph.post(f"/{page}/feed", token, message="[t:1] lost")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == 2  # Graph's transient server error shape
    retry = await graph.post(f"/{page}/feed", token, message="[t:1] lost")
    assert retry.json()["error"]["code"] == 506  # the retry meets the post the first call made
    report = await ctl.published(marker=r"\[t:(\d+)\]")
    assert report["targets"] == [
        {"platform": "facebook", "owner_id": page, "key": "1", "count": 1,
         "post_ids": [report["posts"][0]["post_id"]]}
    ]  # fmt: skip
    listed = await graph.get(f"/{page}/published_posts", token, fields="id,message", limit=1)
    assert listed.json()["data"][0]["message"] == "[t:1] lost"
    counters = await ctl.counters()
    assert counters["faults"]["lost_reply 5xx"] == 1


async def test_lost_reply_reset_in_process_is_a_transport_error(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await ctl.set_publish_fault("lost_reply", mode="reset", platform="linkedin", count=1)
    headers = {**li_headers(demo["org_admin_token"]), "Content-Type": "application/json"}
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/rest/posts", json=post_body(demo["org_urn"], "reset"), headers=headers)
    counts = await ctl.published_counts(platform="linkedin")
    assert counts == {("linkedin", demo["org_id"], "reset"): 1}
    r = await client.post("/rest/posts", json=post_body(demo["org_urn"], "reset"), headers=headers)
    assert r.status_code == 422  # DUPLICATE_POST naming the post the lost call created
    assert r.json()["message"].endswith((await ctl.published())["posts"][0]["post_id"])


async def test_lost_reply_timeout_sends_the_reply_late(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    container = (await graph.post(f"/{ig}/media", token, image_url="https://e.com/a.jpg")).json()[
        "id"
    ]
    await ctl.advance_clock(5)
    await ctl.set_publish_fault("lost_reply", mode="timeout", delay_ms=300, account=ig, count=1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            graph.post(f"/{ig}/media_publish", token, creation_id=container), timeout=0.05
        )
    status = await graph.get(f"/{container}", token, fields="status_code")
    assert status.json()["status_code"] == "PUBLISHED"  # created although nobody heard of it
    assert (await ctl.published(platform="instagram"))["total"] == 1


async def test_error_after_create_is_the_postiz_1681_case(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    ig, token = demo["ig_user_id"], demo["meta_user_token"]
    container = (await graph.post(f"/{ig}/media", token, image_url="https://e.com/a.jpg",
                                  caption="blocked?")).json()["id"]  # fmt: skip
    await ctl.advance_clock(5)
    await ctl.set_publish_fault("error_after_create", platform="instagram", count=1)
    r = await graph.post(f"/{ig}/media_publish", token, creation_id=container)
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["error_subcode"]) == (400, 4, 2207051)
    status = await graph.get(f"/{container}", token, fields="status_code")
    assert status.json()["status_code"] == "PUBLISHED"
    media = (await graph.get(f"/{ig}/media", token, fields="caption", limit=1)).json()["data"]
    assert media[0]["caption"] == "blocked?"
    limit = await graph.get(f"/{ig}/content_publishing_limit", token)
    assert limit.json()["data"][0]["quota_usage"] == 1


async def test_refusals_create_nothing(
    graph: Graph, client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    await ctl.set_publish_fault("policy", platform="facebook", count=1)
    assert (await graph.post(f"/{page}/feed", token, message="a")).json()["error"]["code"] == 368
    await ctl.set_publish_fault("duplicate", platform="facebook", count=1)
    assert (await graph.post(f"/{page}/feed", token, message="b")).json()["error"]["code"] == 506
    await ctl.set_publish_fault("duplicate", platform="linkedin", count=1)
    headers = {**li_headers(demo["member_token"]), "Content-Type": "application/json"}
    r = await client.post("/rest/posts", json=post_body(demo["member_urn"], "c"), headers=headers)
    assert r.status_code == 422
    assert "DUPLICATE_POST" in json.dumps(r.json())
    assert (await ctl.published())["total"] == 0
    assert (await graph.post(f"/{page}/feed", token, message="a")).json()["id"]


async def test_rules_match_account_rate_and_count_deterministically(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    page, token = demo["page_id"], demo["page_token"]
    await ctl.set_publish_fault("lost_reply", account="999", count=5)  # another account
    assert (await graph.post(f"/{page}/feed", token, message="other account")).status_code == 200

    async def run() -> list[int]:
        await ctl.clear_publish_faults()
        await ctl.set_publish_fault("lost_reply", platform="facebook", rate=0.5, seed=42)
        return [
            (await graph.post(f"/{page}/feed", token, message=f"m{len(seen)}-{i}")).status_code
            for i in range(12)
        ]

    seen: list[list[int]] = []
    seen.append(await run())
    seen.append(await run())
    assert [s == 500 for s in seen[0]] == [s == 500 for s in seen[1]]  # same seed, same draws
    assert 0 < seen[0].count(500) < 12
    rules = await ctl.publish_faults()
    assert rules[0]["fired"] == seen[1].count(500)
    assert (await ctl.published(platform="facebook"))["total"] == 1 + 24  # every call created


async def test_bad_rules_are_refused(ctl: SandboxControl) -> None:
    for kwargs in (
        {"kind": "policy", "platform": "instagram"},
        {"kind": "duplicate", "platform": "instagram"},
        {"kind": "lost_reply", "mode": "sideways"},
        {"kind": "lost_reply", "status": 404},
        {"kind": "lost_reply", "rate": 2},
    ):
        with pytest.raises(SandboxControlError) as info:
            await ctl.set_publish_fault(**kwargs)
        assert info.value.status == 400
    with pytest.raises(SandboxControlError):
        await ctl.published(marker="([")
    assert await ctl.publish_faults() == []


async def test_reset_clears_faults_and_the_published_log(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    await graph.post(f"/{demo['page_id']}/feed", demo["page_token"], message="x")
    await ctl.set_publish_fault("lost_reply")
    assert (await ctl.published())["total"] == 1
    assert await ctl.clear_published() == 1
    assert (await ctl.published())["total"] == 0
    await ctl.reset(seed="demo")
    assert await ctl.publish_faults() == []


async def test_media_files_for_clients_that_fetch_media(
    client: httpx.AsyncClient, ctl: SandboxControl
) -> None:
    url = ctl.media_url("photo.jpg", size=5000)
    assert url == "http://sandbox/_sandbox/media/photo.jpg?bytes=5000"
    r = await client.get(url)
    assert (r.headers["content-type"], len(r.content), r.content[:2]) == (
        "image/jpeg",
        5000,
        b"\xff\xd8",
    )
    png = await client.get("/_sandbox/media/a.png")
    assert png.content.startswith(b"\x89PNG")
    mp4 = await client.get("/_sandbox/media/clip.mp4?bytes=100000")
    assert (len(mp4.content), mp4.content[4:8]) == (100_000, b"ftyp")
    assert (await client.get("/_sandbox/media/x.gif")).status_code == 404
    assert (await client.get("/_sandbox/media/x.jpg?bytes=0")).status_code == 400


async def test_publishing_world_survives_a_restart(
    tmp_path: Path, graph: Graph, ctl: SandboxControl, demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:  # fmt: skip
    page, token = demo["page_id"], demo["page_token"]
    photo = (await graph.post(f"/{page}/photos", token, url="https://e.com/p.jpg",
                              published="false")).json()["id"]  # fmt: skip
    await graph.post(f"/{page}/feed", token, message="kept")
    path = tmp_path / "state.json"
    persistence.save_file(sandbox_state, path)
    restored = frozen_state()
    assert persistence.load_file(restored, path)
    assert restored.fb_photos[photo].url == "https://e.com/p.jpg"
    assert [p.text for p in restored.published] == ["kept"]
    assert restored.fb_last_message[page][0] == "kept"


@pytest.fixture
async def served(app: Starlette) -> AsyncIterator[str]:
    """The sandbox app on a real loopback socket (uvicorn in this event loop)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


async def test_lost_replies_over_a_real_socket(served: str, demo: dict[str, Any]) -> None:
    headers = {**li_headers(demo["org_admin_token"]), "Content-Type": "application/json"}
    async with SandboxControl(served) as ctl, httpx.AsyncClient(base_url=served, timeout=0.3) as c:
        await ctl.set_publish_fault("lost_reply", mode="reset", count=1)
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post("/rest/posts", json=post_body(demo["org_urn"], "one"), headers=headers)
        await ctl.set_publish_fault("lost_reply", mode="timeout", delay_ms=1000, count=1)
        with pytest.raises(httpx.ReadTimeout):
            await c.post("/rest/posts", json=post_body(demo["org_urn"], "two"), headers=headers)
        r = await c.post("/rest/posts", json=post_body(demo["org_urn"], "three"), headers=headers)
        assert r.status_code == 201
        counts = await ctl.published_counts()
        assert sorted(key for _, _, key in counts) == ["one", "three", "two"]
        assert set(counts.values()) == {1}
