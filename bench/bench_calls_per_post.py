"""HTTP calls per post refreshed, per platform: Postmeter's fetchers vs a naive client.

The sandbox runs in its own process. Per platform, posts are seeded on one account and
tracked; Postmeter refreshes them twice: the poller's planner cuts the due posts (per account
and cached media type) and ``InsightsRefresher.refresh`` runs them, 8 at once: the first
poll (media types unknown, metric rejections still to learn) and the steady state (second
poll). HTTP requests are counted by the clients (``clients.http_calls``) and cross-checked
with the sandbox's request counter, which counts every Graph batch item as one call (what
Meta's rate limits count). The naive client, in the same run, makes one request per post per
metric group and keeps nothing between polls.

The sandbox answers page-post insights with time-paging links (``since``/``until``, token
inside), as the real Graph API does; ``--time-paging off`` turns them off for comparison.
Targets apply to the steady state (poll 2).

    python bench/bench_calls_per_post.py --posts 2000 --member-posts 100
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.core.runtime import Runtime  # noqa: E402
from app.integrations.graph_batch import appsecret_proof  # noqa: E402
from app.integrations.linkedin_insights import encode_urn, member_entity  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from app.services.insights_refresh import InsightsRefresher  # noqa: E402
from app.services.platform_clients import build_platform_clients  # noqa: E402
from app.services.poll_planner import parse_ids  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DIR,
    QUOTAS,
    UNLIMITED,
    Account,
    Sandbox,
    claim_due,
    create_accounts,
    fresh_database,
    machine,
    make_due_again,
    migrated_runtime,
    seed_posts,
    settings_values,
    track_posts,
)
from bench.report import print_table  # noqa: E402

DATA = BENCH_DIR / "calls"
TARGETS = {"fb": 0.03, "ig": 0.03, "li_org": 0.1, "li_member": None}
NAMES = {
    "fb": "facebook",
    "ig": "instagram",
    "li_org": "linkedin org",
    "li_member": "linkedin member",
}
FB_METRICS = "post_media_view,post_total_media_view_unique,post_clicks,post_reactions_by_type_total"
FB_COUNTS = "reactions.limit(0).summary(true),comments.limit(0).summary(true),shares"
IG_METRICS = {
    "STORY": "views,reach,replies,shares",
    "REELS": "views,reach,likes,comments,shares,saved",
    "FEED": "views,reach,likes,comments,shares,saved",
}
LI_HEADERS = {"X-Restli-Protocol-Version": "2.0.0"}
MEMBER_TYPES = ("IMPRESSION", "MEMBERS_REACHED", "REACTION", "COMMENT", "RESHARE")


class NaiveClient:
    """One request per post per metric group; no batching, no caching (the comparison)."""

    def __init__(self, base: str, version: str, li_version: str, secret: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base, timeout=30, limits=httpx.Limits(max_connections=16)
        )
        self.version, self.li_version, self.secret = version, li_version, secret
        self.calls = 0
        self.failures = 0
        self.semaphore = asyncio.Semaphore(16)

    async def get(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        async with self.semaphore:
            self.calls += 1
            response = await self.http.get(url, params=params, headers=headers)
        if response.status_code >= 400:
            self.failures += 1
            return {}
        return response.json()

    def meta_auth(self, token: str) -> dict[str, str]:
        return {"access_token": token, "appsecret_proof": appsecret_proof(token, self.secret)}

    async def post(self, account: Account, post_id: str) -> None:
        v, auth = self.version, self.meta_auth(account.token)
        if account.key == "fb":
            await self.get(
                f"/{v}/{post_id}/insights",
                params={"metric": FB_METRICS, "period": "lifetime", **auth},
            )
            await self.get(f"/{v}/{post_id}", params={"fields": FB_COUNTS, **auth})
        elif account.key == "ig":
            info = await self.get(
                f"/{v}/{post_id}", params={"fields": "media_type,media_product_type", **auth}
            )
            metrics = IG_METRICS.get(str(info.get("media_product_type")), IG_METRICS["FEED"])
            await self.get(f"/{v}/{post_id}/insights", params={"metric": metrics, **auth})
        elif account.key == "li_org":
            param = "ugcPosts" if post_id.startswith("urn:li:ugcPost:") else "shares"
            org = encode_urn(account.external_id)
            url = (f"/rest/organizationalEntityShareStatistics?q=organizationalEntity"
                   f"&organizationalEntity={org}&{param}=List({encode_urn(post_id)})")  # fmt: skip
            await self.get(url, headers=self.li_headers(account))
        else:
            for metric in MEMBER_TYPES:
                url = (f"/rest/memberCreatorPostAnalytics?q=entity&entity={member_entity(post_id)}"
                       f"&queryType={metric}&aggregation=TOTAL")  # fmt: skip
                await self.get(url, headers=self.li_headers(account))

    def li_headers(self, account: Account) -> dict[str, str]:
        return {
            **LI_HEADERS,
            "Authorization": f"Bearer {account.token}",
            "LinkedIn-Version": self.li_version,
        }

    async def poll(self, account: Account) -> int:
        before = self.calls
        await asyncio.gather(*(self.post(account, pid) for pid in account.post_ids))
        return self.calls - before


async def postmeter_poll(
    refresher: InsightsRefresher, batches: list[list[uuid.UUID]]
) -> tuple[int, int, int]:
    """Refresh the planner's batches of one account, 8 at once: (HTTP calls, fetched, errors)."""
    calls = refresher.clients.http_calls
    before = sum(calls.values())
    semaphore = asyncio.Semaphore(8)
    fetched = errors = 0

    async def one(chunk: list[uuid.UUID]) -> None:
        nonlocal fetched, errors
        async with semaphore:
            report = await refresher.refresh(chunk)
        fetched += report.count("fetched")
        errors += report.count("error")

    await asyncio.gather(*(one(b) for b in batches))
    return sum(calls.values()) - before, fetched, errors


async def claim_all(runtime: Runtime) -> dict[str, list[list[uuid.UUID]]]:
    """Everything due, cut by the poller's planner, per account."""
    out: dict[str, list[list[uuid.UUID]]] = {}
    for batch in await claim_due(runtime):
        out.setdefault(batch.account_id, []).append(parse_ids(batch.external_row_ids))
    return out


async def main(args: argparse.Namespace) -> int:
    counts = {
        "fb": args.posts,
        "ig": args.posts,
        "li_org": args.posts,
        "li_member": args.member_posts,
    }
    print(f"machine: {machine()}; posts per platform: {counts}; time paging: {args.time_paging}")
    rows = []
    async with Sandbox() as sandbox, SandboxControl(sandbox.url) as ctl:
        await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
        await ctl.set_time_paging(args.time_paging == "on")
        demo = (await ctl.world())["demo"]
        accounts = await create_accounts(ctl, demo, dict.fromkeys(counts, 1))
        for acc in accounts:
            await seed_posts(ctl, acc, counts[acc.key])
        db_url = fresh_database("sqlite", DATA)
        values = settings_values(db_url, DATA, sandbox.url, demo["meta_app_secret"])
        runtime = await migrated_runtime(values)
        await track_posts(runtime, accounts)
        s = runtime.settings
        clients = build_platform_clients(s)
        refresher = InsightsRefresher(runtime, clients)
        naive = NaiveClient(
            sandbox.url, s.META_GRAPH_API_VERSION, s.LINKEDIN_API_VERSION, demo["meta_app_secret"]
        )
        polls: dict[str, list[tuple[int, int, int, int, int]]] = {a.key: [] for a in accounts}
        for _ in range(2):
            await make_due_again(runtime)
            planned = await claim_all(runtime)
            for acc in accounts:
                await ctl.reset_counters()
                calls, fetched, errors = await postmeter_poll(refresher, planned[str(acc.row_id)])
                units = (await ctl.counters())["requests"]
                polls[acc.key].append((calls, fetched, errors, units, await naive.poll(acc)))
        for acc in accounts:
            n, target = len(acc.post_ids), TARGETS[acc.key]
            (c1, f1, e1, u1, n1), (c2, f2, e2, u2, n2) = polls[acc.key]
            met = "-" if target is None else ("yes" if c2 / n <= target else "NO")
            rows.append([
                NAMES[acc.key], n, c1 / n, c2 / n, f"{f1}/{f2}", f"{e1}/{e2}", u1 / n, u2 / n,
                n1 / n, n2 / n, (n2 / n) / (c2 / n) if c2 else 0.0, target if target else "-", met,
            ])  # fmt: skip
        await clients.aclose()
        await naive.http.aclose()
        await runtime.aclose()
    print()
    print_table(
        ["platform", "posts", "pm calls/post poll 1", "pm calls/post poll 2", "fetched 1/2",
         "errors 1/2", "rate units/post 1", "rate units/post 2", "naive calls/post 1",
         "naive calls/post 2", "naive / pm (poll 2)", "target", "met"], rows,
    )  # fmt: skip
    print(f"naive client failures (non-2xx): {naive.failures}")
    print("rate units: platform calls as the sandbox counts them (a Graph batch item = 1 call)")
    return 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--posts", type=int, default=2000, help="posts for facebook, instagram, li org")
    p.add_argument("--member-posts", type=int, default=100, help="linkedin member posts")
    p.add_argument("--time-paging", choices=("on", "off"), default="on",
                   help="page-post insights carry time-paging links")  # fmt: skip
    return p.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
