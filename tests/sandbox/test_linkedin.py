"""LinkedIn REST: headers, auth, posts, statistics, member analytics, OAuth, quotas."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from app.integrations.linkedin_insights import encode_urn, member_entity, restli_list
from app.sandbox.client import SandboxControl
from app.sandbox.curves import snapshot
from app.sandbox.state import SandboxState
from tests.sandbox.conftest import li_headers, posts_of

STATS = "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
ANALYTICS = "/rest/memberCreatorPostAnalytics?q=entity"
METRIC_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"


def _analytics_url(urn: str, query_type: str = "IMPRESSION") -> str:
    return f"{ANALYTICS}&entity={member_entity(urn)}&queryType={query_type}&aggregation=TOTAL"


def _stats_url(org_urn: str, shares: list[str], ugc: list[str]) -> str:
    url = f"{STATS}&organizationalEntity={encode_urn(org_urn)}"
    if shares:
        url += f"&shares={restli_list(shares)}"
    if ugc:
        url += f"&ugcPosts={restli_list(ugc)}"
    return url


async def test_version_and_protocol_headers(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    token = demo["org_admin_token"]
    r = await client.get(
        "/rest/posts/x",
        headers={"Authorization": f"Bearer {token}", "X-Restli-Protocol-Version": "2.0.0"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "VERSION_MISSING"
    r = await client.get(
        "/rest/posts/x", headers={"Authorization": f"Bearer {token}", "LinkedIn-Version": "202610"}
    )
    assert r.status_code == 400
    assert r.json()["status"] == 400
    r = await client.get("/rest/posts/x", headers=li_headers(token, "202301"))
    assert r.status_code == 426
    assert r.json()["code"] == "NONEXISTENT_VERSION"


async def test_token_errors(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    r = await client.get("/rest/posts/x", headers=li_headers(None))
    assert r.status_code == 401
    assert r.json()["serviceErrorCode"] == 65604
    r = await client.get("/rest/posts/x", headers=li_headers("AQVnope"))
    assert r.status_code == 401
    assert r.json()["code"] == "INVALID_ACCESS_TOKEN"
    await ctl.expire_token(demo["member_token"])
    r = await client.get("/rest/posts/x", headers=li_headers(demo["member_token"]))
    assert (r.status_code, r.json()["code"]) == (401, "EXPIRED_ACCESS_TOKEN")
    await ctl.revoke_token(demo["org_admin_token"])
    r = await client.get("/rest/posts/x", headers=li_headers(demo["org_admin_token"]))
    assert (r.status_code, r.json()["code"]) == (401, "REVOKED_ACCESS_TOKEN")


async def test_share_statistics_with_shares_and_ugc_posts(
    client: httpx.AsyncClient, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    org = demo["org_id"]
    ids = posts_of(sandbox_state, org)
    shares = [i for i in ids if ":share:" in i]
    ugc = [i for i in ids if ":ugcPost:" in i]
    assert shares
    assert ugc
    r = await client.get(
        _stats_url(demo["org_urn"], shares, ugc), headers=li_headers(demo["org_admin_token"])
    )
    assert r.status_code == 200, r.text
    elements = r.json()["elements"]
    assert len(elements) == len(shares) + len(ugc)
    assert {e.get("share") or e.get("ugcPost") for e in elements} == set(ids)
    stats = elements[0]["totalShareStatistics"]
    assert {
        "impressionCount",
        "uniqueImpressionsCount",
        "clickCount",
        "likeCount",
        "commentCount",
        "shareCount",
        "engagement",
    } <= set(stats)
    assert stats["uniqueImpressionsCount"] <= stats["impressionCount"]
    r = await client.get(
        _stats_url(demo["org_urn"], [], []), headers=li_headers(demo["org_admin_token"])
    )
    assert "share" not in r.json()["elements"][0]


async def test_share_statistics_rules(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    old = await ctl.seed_posts("linkedin", demo["org_id"], 1, age_hours=400 * 24)
    fresh = await ctl.seed_posts("linkedin", demo["org_id"], 1, age_hours=2)
    r = await client.get(
        _stats_url(demo["org_urn"], old + fresh, []), headers=li_headers(demo["org_admin_token"])
    )
    assert [e["share"] for e in r.json()["elements"]] == fresh  # older than 12 months: left out
    r = await client.get(
        _stats_url(demo["org_urn"], fresh, []), headers=li_headers(demo["member_token"])
    )
    assert r.status_code == 403
    assert r.json()["code"] == "ACCESS_DENIED"
    raw = f"{_stats_url(demo['org_urn'], [], [])}&shares=List({fresh[0]})"
    r = await client.get(raw, headers=li_headers(demo["org_admin_token"]))
    assert r.status_code == 400  # URNs inside List() must be URL-encoded
    r = await client.get(
        _stats_url(demo["org_urn"], [], fresh), headers=li_headers(demo["org_admin_token"])
    )
    assert r.status_code == 400  # a share URN in ugcPosts


async def test_member_creator_post_analytics(
    client: httpx.AsyncClient, demo: dict[str, Any], sandbox_state: SandboxState
) -> None:
    urn = posts_of(sandbox_state, demo["member_id"])[0]
    totals = {}
    for query_type in ("IMPRESSION", "MEMBERS_REACHED", "RESHARE", "REACTION", "COMMENT"):
        url = _analytics_url(urn, query_type)
        r = await client.get(url, headers=li_headers(demo["member_token"], "202604"))
        assert r.status_code == 200, r.text
        (element,) = r.json()["elements"]
        assert element["metricType"] == {METRIC_KEY: query_type}
        totals[query_type] = element["count"]
    assert totals["MEMBERS_REACHED"] <= totals["IMPRESSION"]
    url = _analytics_url(urn)
    r = await client.get(url, headers=li_headers(demo["member_token"], "202610"))
    (element,) = r.json()["elements"]
    assert element == {
        "count": totals["IMPRESSION"],
        "metricType": "IMPRESSION",
        "targetEntity": {"share": urn},
    }
    r = await client.get(url.replace("TOTAL", "DAILY"), headers=li_headers(demo["member_token"]))
    daily = r.json()["elements"]
    assert sum(e["count"] for e in daily) == totals["IMPRESSION"]
    assert "dateRange" in daily[0]
    r = await client.get(url, headers=li_headers(demo["org_admin_token"]))
    assert r.status_code == 403  # not the author
    r = await client.get(
        url.replace("IMPRESSION", "CLICKS"), headers=li_headers(demo["member_token"])
    )
    assert r.status_code == 400


async def test_member_analytics_needs_scope(
    client: httpx.AsyncClient,
    ctl: SandboxControl,
    demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:
    token = (await ctl.create_token("linkedin", demo["member_id"], scopes=["w_member_social"]))[
        "access_token"
    ]
    urn = posts_of(sandbox_state, demo["member_id"])[0]
    url = _analytics_url(urn)
    r = await client.get(url, headers=li_headers(token))
    assert r.status_code == 403
    assert "memberCreatorPostAnalytics" in r.json()["message"]


async def test_posts_create_get_delete_and_social_metadata(
    client: httpx.AsyncClient,
    ctl: SandboxControl,
    demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:
    body = {
        "author": demo["org_urn"],
        "commentary": "Launch day",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
    }
    headers = {**li_headers(demo["org_admin_token"]), "Content-Type": "application/json"}
    r = await client.post("/rest/posts", content=json.dumps(body), headers=headers)
    assert r.status_code == 201
    assert r.content == b""
    urn = r.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    r = await client.get(
        f"/rest/posts/{encode_urn(urn)}", headers=li_headers(demo["org_admin_token"])
    )
    post = r.json()
    assert (post["author"], post["commentary"], post["lifecycleState"]) == (
        demo["org_urn"],
        "Launch day",
        "PUBLISHED",
    )
    assert isinstance(post["createdAt"], int)
    await ctl.advance_clock(12 * 3600)
    r = await client.get(
        f"/rest/socialMetadata/{encode_urn(urn)}", headers=li_headers(demo["org_admin_token"])
    )
    meta = r.json()
    assert meta["entity"] == urn
    snap = snapshot(sandbox_state.posts[urn], sandbox_state.now())  # the post 12 h old
    assert meta["commentSummary"]["count"] == snap["comments"]
    assert meta["reactionSummaries"] == {
        kind: {"reactionType": kind, "count": count}
        for kind, count in snap["reactions_by_type"].items()
    }
    r = await client.get(
        f"/rest/socialMetadata?ids={restli_list([urn, 'urn:li:share:1'])}",
        headers=li_headers(demo["org_admin_token"]),
    )
    assert r.json()["statuses"] == {urn: 200, "urn:li:share:1": 404}
    r = await client.post(
        "/rest/posts", content=json.dumps({**body, "author": demo["member_urn"]}), headers=headers
    )
    assert r.status_code == 403
    r = await client.post(
        "/rest/posts", content=json.dumps({"author": demo["org_urn"]}), headers=headers
    )
    assert r.status_code == 422
    r = await client.delete(
        f"/rest/posts/{encode_urn(urn)}", headers=li_headers(demo["org_admin_token"])
    )
    assert r.status_code == 204
    r = await client.get(
        f"/rest/posts/{encode_urn(urn)}", headers=li_headers(demo["org_admin_token"])
    )
    assert r.status_code == 404


async def test_oauth_code_and_refresh(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    redirect = "http://localhost:8000/li"
    r = await client.get(
        "/oauth/v2/authorization",
        params={
            "response_type": "code",
            "client_id": demo["linkedin_app_id"],
            "redirect_uri": redirect,
            "state": "s1",
            "scope": "openid r_member_postAnalytics",
        },
    )
    assert r.status_code == 302
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": demo["linkedin_app_id"],
        "client_secret": demo["linkedin_app_secret"],
        "redirect_uri": redirect,
    }
    r = await client.post("/oauth/v2/accessToken", data=form)
    tokens = r.json()
    assert tokens["expires_in"] > 59 * 86400
    assert tokens["scope"] == "openid,r_member_postAnalytics"
    assert tokens["refresh_token_expires_in"] > 364 * 86400
    assert (await client.post("/oauth/v2/accessToken", data=form)).status_code == 400  # used code
    await ctl.advance_clock(100 * 86400)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": demo["linkedin_app_id"],
        "client_secret": demo["linkedin_app_secret"],
    }
    refreshed = (await client.post("/oauth/v2/accessToken", data=refresh)).json()
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token_expires_in"] <= tokens["refresh_token_expires_in"] - 100 * 86400
    r = await client.post("/oauth/v2/accessToken", data={**refresh, "client_secret": "nope"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = await client.post(
        "/oauth/v2/introspectToken",
        data={
            "client_id": demo["linkedin_app_id"],
            "client_secret": demo["linkedin_app_secret"],
            "token": refreshed["access_token"],
        },
    )
    assert r.json()["active"] is True


async def test_daily_quotas_reset_at_utc_midnight(
    client: httpx.AsyncClient,
    ctl: SandboxControl,
    demo: dict[str, Any],
    sandbox_state: SandboxState,
) -> None:
    await ctl.set_quotas(linkedin_member_calls_per_day=3)
    urn = posts_of(sandbox_state, demo["member_id"])[0]
    url = f"/rest/socialMetadata/{encode_urn(urn)}"
    for _ in range(3):
        assert (await client.get(url, headers=li_headers(demo["member_token"]))).status_code == 200
    r = await client.get(url, headers=li_headers(demo["member_token"]))
    assert r.status_code == 429
    assert "MEMBER DAY" in r.json()["message"]
    now = sandbox_state.now()
    await ctl.advance_clock(86_400 - now % 86_400 + 1)
    assert (await client.get(url, headers=li_headers(demo["member_token"]))).status_code == 200
