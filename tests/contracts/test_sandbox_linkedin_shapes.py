"""The sandbox's LinkedIn replies have the structure of the real replies in the fixtures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.integrations.linkedin_insights import encode_urn, member_entity, restli_list
from app.sandbox.client import SandboxControl
from tests.contracts.platform_replies import load
from tests.contracts.sandbox_check import reply_diff
from tests.sandbox.conftest import li_headers

STATS = "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
ANALYTICS = "/rest/memberCreatorPostAnalytics?q=entity"


def _stats_url(org_urn: str, shares: list[str], ugc_posts: list[str]) -> str:
    return (
        f"{STATS}&organizationalEntity={encode_urn(org_urn)}"
        f"&shares={restli_list(shares)}&ugcPosts={restli_list(ugc_posts)}"
    )


async def _org_posts(ctl: SandboxControl, demo: dict[str, Any]) -> tuple[str, str]:
    share = (await ctl.seed_posts("linkedin", demo["org_id"], 1, age_hours=48.0))[0]
    ugc = (await ctl.seed_posts("linkedin", demo["org_id"], 1, age_hours=48.0,
                                urn_kind="ugcPost"))[0]  # fmt: skip
    return share, ugc


def _share_first(body: Any) -> Any:
    elements = sorted(body["elements"], key=lambda e: "share" not in e)
    return body | {"elements": elements}


async def test_share_statistics(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    share, ugc = await _org_posts(ctl, demo)
    reply = await client.get(_stats_url(demo["org_urn"], [share], [ugc]),
                             headers=li_headers(demo["org_admin_token"]))  # fmt: skip
    fixture = load("linkedin/share_statistics_lifetime")
    assert reply_diff(fixture, reply, part=_share_first) == []


@pytest.mark.parametrize(
    ("name", "version"),
    [("member_post_analytics_total", "202610"), ("member_post_analytics_total_legacy", "202601")],
)
async def test_member_post_analytics(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any], name: str,
    version: str,
) -> None:  # fmt: skip
    urn = (await ctl.seed_posts("linkedin", demo["member_id"], 1, age_hours=48.0))[0]
    url = f"{ANALYTICS}&entity={member_entity(urn)}&queryType=IMPRESSION&aggregation=TOTAL"
    reply = await client.get(url, headers=li_headers(demo["member_token"], version))
    assert reply_diff(load(f"linkedin/{name}"), reply) == []


async def test_401_invalid_token(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    url = _stats_url(demo["org_urn"], ["urn:li:share:1"], ["urn:li:ugcPost:2"])
    reply = await client.get(url, headers=li_headers("not-a-token"))
    assert reply_diff(load("linkedin/error_401_invalid_token"), reply) == []


async def test_403_access_denied(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    url = _stats_url(demo["org_urn"], ["urn:li:share:1"], ["urn:li:ugcPost:2"])
    reply = await client.get(url, headers=li_headers(demo["member_token"]))  # not an admin
    assert reply_diff(load("linkedin/error_403_access_denied"), reply) == []


async def test_426_nonexistent_version(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    url = _stats_url(demo["org_urn"], ["urn:li:share:1"], ["urn:li:ugcPost:2"])
    reply = await client.get(url, headers=li_headers(demo["org_admin_token"], "202401"))
    assert reply_diff(load("linkedin/error_426_nonexistent_version"), reply) == []


async def test_429_throttled(
    client: httpx.AsyncClient, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    share, ugc = await _org_posts(ctl, demo)
    await ctl.set_quotas(linkedin_app_calls_per_day=0)
    reply = await client.get(_stats_url(demo["org_urn"], [share], [ugc]),
                             headers=li_headers(demo["org_admin_token"]))  # fmt: skip
    assert reply_diff(load("linkedin/error_429_throttled"), reply) == []
