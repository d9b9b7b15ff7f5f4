"""Metric curves, the clock, faults, counters, persistence and bulk seeding."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox import persistence
from app.sandbox.client import SandboxControl, SandboxControlError
from app.sandbox.clock import SandboxClock
from app.sandbox.curves import post_seed, snapshot
from app.sandbox.entities import Post
from app.sandbox.faults import ConnectionDropped
from app.sandbox.server import create_sandbox_app
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import START, Graph, frozen_state, li_headers, posts_of


def _post(
    post_id: str, platform: str = "facebook", media_type: str = "video", product: str = "FEED"
) -> Post:
    return Post(post_id, platform, "1", media_type, product, 0.0, post_seed(post_id))


@pytest.mark.parametrize(
    ("platform", "media", "product"),
    [("facebook", "video", "FEED"), ("instagram", "VIDEO", "REELS"), ("linkedin", "text", "FEED")],
)
def test_curves_monotonic_deterministic_and_consistent(
    platform: str, media: str, product: str
) -> None:
    for n in range(50):
        post = _post(f"p{n}", platform, media, product)
        previous: dict[str, Any] | None = None
        for hours in (0, 0.5, 1, 2, 4, 8, 24, 72, 240, 2000):
            snap = snapshot(post, hours * 3600.0)
            assert snap == snapshot(_post(f"p{n}", platform, media, product), hours * 3600.0)
            assert snap["reach"] <= snap["views"]
            assert snap["reactions"] + snap["comments"] + snap["shares"] <= max(snap["reach"], 0)
            if previous is not None:
                for key in (
                    "views",
                    "reach",
                    "reactions",
                    "comments",
                    "shares",
                    "clicks",
                    "saves",
                    "video_views",
                ):
                    assert snap[key] >= previous[key], (key, hours)
            previous = snap
    assert snapshot(_post("x"), 0.0)["views"] == 0
    early, late = (
        snapshot(_post("x"), 4 * 3600.0)["views"],
        snapshot(_post("x"), 400 * 3600.0)["views"],
    )
    assert early > 0.3 * late  # fast first hours, then flat
    assert snapshot(_post("t", media_type="status"), 99 * 3600.0)["video_views"] == 0


async def test_polls_see_growth_and_repeat_exactly(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[-1]  # the youngest
    metrics = "post_media_view,post_reactions_by_type_total"
    first = (await graph.get(f"/{post_id}/insights", demo["page_token"], metric=metrics)).json()
    again = (await graph.get(f"/{post_id}/insights", demo["page_token"], metric=metrics)).json()
    assert first == again  # frozen clock: same numbers
    await ctl.advance_clock(3 * 3600)
    later = (await graph.get(f"/{post_id}/insights", demo["page_token"], metric=metrics)).json()
    assert later["data"][0]["values"][0]["value"] > first["data"][0]["values"][0]["value"]
    assert (await ctl.clock()).timestamp() == pytest.approx(START + 3 * 3600)


async def test_clock_speed_and_control_validation(ctl: SandboxControl) -> None:
    before = await ctl.clock()
    await ctl.set_clock(speed=3600.0)
    time.sleep(0.05)
    assert (await ctl.clock()).timestamp() - before.timestamp() > 60
    with pytest.raises(SandboxControlError) as err:
        await ctl.advance_clock(-5)
    assert err.value.status == 400
    with pytest.raises(SandboxControlError):
        await ctl.seed_posts("facebook", "no-such-page", 1)
    with pytest.raises(SandboxControlError) as err:
        await ctl.expire_token("missing")
    assert err.value.status == 404


async def test_faults(
    client: httpx.AsyncClient, ctl: SandboxControl, graph: Graph, demo: dict[str, Any]
) -> None:
    page = demo["page_id"]
    await ctl.set_fault("*/insights", "5xx", status=503, count=1)
    await ctl.set_fault("/rest/*", "429", platform="linkedin", count=1)
    r = await graph.get(f"/{page}_1/insights", demo["page_token"], metric="post_media_view")
    assert r.status_code == 503
    assert r.json()["error"]["is_transient"] is True
    r = await graph.get(f"/{page}", demo["page_token"])
    assert r.status_code == 200  # other endpoints untouched
    r = await client.get("/rest/posts/x", headers=li_headers(demo["member_token"]))
    assert r.status_code == 429
    assert r.json()["status"] == 429
    await ctl.set_fault(f"/v24.0/{page}", "malformed", count=1)
    r = await graph.get(f"/{page}", demo["page_token"])
    with pytest.raises(json.JSONDecodeError):
        r.json()
    await ctl.set_fault(f"/v24.0/{page}", "drop", count=1)
    with pytest.raises(ConnectionDropped):
        await graph.get(f"/{page}", demo["page_token"])
    await ctl.set_fault(f"/v24.0/{page}", "slow", latency_ms=30, count=1)
    started = time.perf_counter()
    assert (await graph.get(f"/{page}", demo["page_token"])).status_code == 200
    assert time.perf_counter() - started >= 0.03
    counters = await ctl.counters()
    assert counters["faults"] == {"5xx": 1, "429": 1, "malformed": 1, "drop": 1, "slow": 1}
    assert await ctl.clear_faults() == 5


async def test_seeded_faults_are_repeatable() -> None:
    outcomes = []
    for _ in range(2):
        app = create_sandbox_app(frozen_state(), seed="demo")
        transport = httpx.ASGITransport(app=app)
        async with (
            SandboxControl("http://sb", transport=transport) as ctl,
            httpx.AsyncClient(transport=transport, base_url="http://sb") as client,
        ):
            await ctl.set_fault("*", "5xx", rate=0.3, seed=42, status=500)
            codes = [(await client.get("/v24.0/me")).status_code for _ in range(40)]
        outcomes.append(codes)
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0].count(500) < 40


async def test_counters(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    await ctl.reset_counters()
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_media_view")
    await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_impressions")
    counters = await ctl.counters()
    assert counters["requests"] == 2
    assert counters["by_endpoint"] == {"meta GET /{id}/insights": 2}
    assert counters["by_token"] == {demo["page_token"]: 2}
    assert counters["by_app"] == {demo["meta_app_id"]: 2}
    assert counters["by_status"] == {"200": 1, "400": 1}
    assert counters["errors_by_code"] == {"100": 1}


async def test_persistence_round_trip(
    tmp_path: Path, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    await ctl.seed_posts(
        "instagram", demo["ig_user_id"], 5, product_type="REELS", age_hours=(1, 10)
    )
    await ctl.revoke_token(demo["member_token"])
    path = tmp_path / "state.json"
    persistence.save_file(sandbox_state, path)
    restored = SandboxState(clock=SandboxClock(speed=0.0))
    assert persistence.load_file(restored, path, clock_speed=0.0)
    assert restored.now() == pytest.approx(sandbox_state.now())
    assert restored.demo == sandbox_state.demo
    assert set(restored.posts) == set(sandbox_state.posts)
    for post_id, post in sandbox_state.posts.items():
        assert snapshot(restored.posts[post_id], restored.now()) == snapshot(
            post, sandbox_state.now()
        )
    assert restored.tokens[demo["member_token"]].revoked is True
    assert restored.page_token_index == sandbox_state.page_token_index
    # new ids continue after the saved ones
    assert restored.ids.number("fb_post") == sandbox_state.ids.number("fb_post")


async def test_state_file_is_loaded_and_saved_by_the_app(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    app = create_sandbox_app(frozen_state(), seed="demo", state_file=str(path))
    async with app.router.lifespan_context(app):
        async with SandboxControl("http://sb", transport=httpx.ASGITransport(app=app)) as ctl:
            page = await ctl.create_page(name="Persisted")
            assert await ctl.save() == str(path)
    second = create_sandbox_app(
        SandboxState(clock=SandboxClock(speed=0.0)), seed="demo", state_file=str(path)
    )
    assert page["id"] in second.state.sandbox.pages


async def test_bulk_seed_100k_is_fast(
    ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    started = time.perf_counter()
    ids = await ctl.seed_posts(
        "facebook",
        demo["page_id"],
        100_000,
        media_type=["status", "photo", "video"],
        age_hours=(1, 24 * 365),
    )
    elapsed = time.perf_counter() - started
    assert len(ids) == 100_000
    assert len(set(ids)) == 100_000
    assert elapsed < 2.0, elapsed
    last = snapshot(sandbox_state.posts[ids[-1]], sandbox_state.now())
    assert (await ctl.post_metrics(ids[-1]))["views"] == last["views"]
    assert (await ctl.counters())["posts_created"]["facebook"] == 100_010


async def test_delete_post(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post_id = posts_of(sandbox_state, demo["page_id"])[0]
    await ctl.delete_post(post_id)
    r = await graph.get(f"/{post_id}/insights", demo["page_token"], metric="post_media_view")
    assert r.json()["error"]["code"] == 100
    world = await ctl.world()
    assert world["posts"]["facebook"] == 9


async def test_control_reads_do_not_mark_the_world_changed(
    ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    before = sandbox_state.changes
    assert await ctl.health()
    await ctl.world()
    await ctl.counters()
    await ctl.clock()
    await ctl.quotas()
    await ctl.faults()
    await ctl.list_posts(owner_id=demo["page_id"])
    await ctl.post_metrics(posts_of(sandbox_state, demo["page_id"])[0])
    assert sandbox_state.changes == before  # the state-file saver has nothing to rewrite
    await ctl.set_quotas(meta_page_calls_per_day=10)
    assert sandbox_state.changes > before
