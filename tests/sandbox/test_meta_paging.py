"""Time paging of insights replies (as real Graph sends it) and ``null`` batch items."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.sandbox.client import SandboxControl
from app.sandbox.meta_auth import appsecret_proof
from app.sandbox.meta_paging import DAY, current_window
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import START, Graph, posts_of


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_window_matches_the_captured_reply() -> None:
    # A reply captured on 2020-08-15 (Pacific) offered previous = 12..14 Aug, next = 16..18 Aug.
    assert current_window(1597500000) == (1597388400, 1597561200)


@pytest.mark.parametrize("period", [None, "lifetime", "day", "days_28"])
async def test_post_insights_carry_time_paging_with_the_token(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState, period: str | None
) -> None:
    post = posts_of(sandbox_state, demo["page_id"])[0]
    token = demo["page_token"]
    params = {"metric": "post_media_view,post_clicks"} | ({"period": period} if period else {})
    body = (await graph.get(f"/{post}/insights", token, **params)).json()
    paging = body["paging"]
    assert set(paging) == {"previous", "next"}
    since, until = current_window(START)
    prev, nxt = _query(paging["previous"]), _query(paging["next"])
    assert prev["access_token"] == nxt["access_token"] == token
    assert (int(prev["since"]), int(prev["until"])) == (since - 2 * DAY, since)
    assert (int(nxt["since"]), int(nxt["until"])) == (until, until + 2 * DAY)
    assert nxt["metric"] == "post_media_view,post_clicks"
    assert urlsplit(paging["next"]).path == f"/v24.0/{post}/insights"


async def test_expanded_insights_field_carries_time_paging_video_and_ig_do_not(
    graph: Graph, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    token = demo["page_token"]
    post = posts_of(sandbox_state, demo["page_id"])[0]
    media = posts_of(sandbox_state, demo["ig_user_id"], product_type="FEED")[0]
    fb = await graph.get(f"/{post}", token, fields="insights.metric(post_clicks).period(lifetime)")
    insights = fb.json()["insights"]
    assert insights["data"]
    assert urlsplit(insights["paging"]["next"]).path == f"/v24.0/{post}/insights"
    assert _query(insights["paging"]["next"])["access_token"] == token
    # As captured (video_insights) and documented (IG media insights): no paging block.
    ig = await graph.get(f"/{media}/insights", token, metric="views,reach")
    assert set(ig.json()) == {"data"}


async def test_following_a_time_link_gives_nothing_new(
    graph: Graph, client: httpx.AsyncClient, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post = posts_of(sandbox_state, demo["page_id"])[0]
    token = demo["page_token"]
    first = (await graph.get(f"/{post}/insights", token, metric="post_media_view")).json()
    nxt = first["paging"]["next"]
    proof = appsecret_proof(demo["meta_app_secret"], token)
    followed = (await client.get(f"{nxt}&appsecret_proof={proof}")).json()
    # The same metric again, with no values, and one more link onwards: a follower that
    # replaces rows by name loses its numbers; one that follows `next` never stops.
    assert [row["name"] for row in followed["data"]] == ["post_media_view"]
    assert followed["data"][0]["values"] == []
    assert int(_query(followed["paging"]["next"])["since"]) > int(_query(nxt)["since"])
    assert first["data"][0]["values"]


async def test_time_paging_can_be_turned_off(
    graph: Graph, ctl: SandboxControl, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    post = posts_of(sandbox_state, demo["page_id"])[0]
    assert (await ctl.set_time_paging(False))["meta_time_paging"] is False
    body = (await graph.get(f"/{post}/insights", demo["page_token"], metric="post_clicks")).json()
    assert "paging" not in body
    assert body["data"]
    assert (await ctl.set_time_paging(True))["meta_time_paging"] is True
    with pytest.raises(Exception, match="true or false"):
        await ctl.set_settings(meta_time_paging=1)


async def test_batch_null_fault_answers_null_for_unrun_items(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:  # fmt: skip
    posts = posts_of(sandbox_state, demo["page_id"])[:4]
    token = demo["page_token"]
    form = {
        "access_token": token,
        "appsecret_proof": appsecret_proof(demo["meta_app_secret"], token),
        "batch": json.dumps([{"method": "GET", "relative_url": f"{p}?fields=id"} for p in posts]),
    }
    rule = await ctl.set_batch_null(count=2)
    assert rule["kind"] == "batch_null"
    replies = (await client.post("/v24.0/", data=form)).json()
    assert replies[:2] == [None, None]
    assert [json.loads(r["body"])["id"] for r in replies[2:]] == posts[2:]
    again = (await client.post("/v24.0/", data=form)).json()  # the rule is used up
    assert all(r is not None for r in again)
    assert (await ctl.counters())["faults"]["batch_null"] == 2
