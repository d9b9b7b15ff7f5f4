"""Benchmark the platform sandbox against a trivial Starlette endpoint.

Starts the sandbox (``python -m app.sandbox``, one uvicorn worker, httptools + uvloop) and a
baseline app with the same server settings in subprocesses on loopback, drives both with an
httpx AsyncClient at a few concurrency levels for a bounded time and request count, and prints
a table (endpoint, concurrency, requests, req/s, p50/p99 ms, share of the baseline's req/s).

    python bench/bench_sandbox.py --duration 3 --concurrency 1,16,64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.integrations.linkedin_insights import encode_urn, member_entity, restli_list  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from app.sandbox.meta_auth import appsecret_proof  # noqa: E402
from bench.common import (  # noqa: E402
    QUOTAS,
    UNLIMITED,
    Sandbox,
    ServerProcess,
    cpu_seconds,
)

BASELINE_APP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def ok(request):
    return Response(b'{"ok":true}', media_type="application/json")

app = Starlette(routes=[Route("/ok", ok)])
uvicorn.run(app, host="127.0.0.1", port={port}, loop="uvloop", http="httptools",
            access_log=False, log_level="warning")
"""


@dataclass
class Case:
    name: str
    method: str
    url: str
    params: dict[str, str] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    calls_per_request: int = 1


@dataclass
class Result:
    case: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float
    calls_per_request: int = 1  # platform calls one HTTP request stands for (batch items)

    @property
    def server_us(self) -> float:
        """Server CPU microseconds per request."""
        return self.server_cpu / self.requests * 1e6 if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


class Baseline(ServerProcess):
    """The trivial Starlette app, run and stopped like the sandbox."""

    name = "baseline"
    health_path = "/ok"

    def command(self) -> list[str]:
        return [sys.executable, "-c", BASELINE_APP.replace("{port}", str(self.port))]


async def run_case(
    base: str, case: Case, concurrency: int, duration: float, max_requests: int, server_pid: int
) -> Result:
    """One keep-alive client per worker (a shared httpx pool contends under load)."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    clients = [
        httpx.AsyncClient(base_url=base, timeout=30.0, limits=httpx.Limits(max_connections=1))
        for _ in range(concurrency)
    ]

    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.request(
            case.method, case.url, params=case.params, data=case.data, headers=case.headers
        )

    try:
        await asyncio.gather(*(call(client) for client in clients))  # warm-up: connect
        cpu_before = cpu_seconds(server_pid)
        began = time.perf_counter()
        stop_at = began + duration

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal errors, issued
            while issued < max_requests and time.perf_counter() < stop_at:
                issued += 1
                started = time.perf_counter()
                response = await call(client)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

        await asyncio.gather(*(worker(client) for client in clients))
        seconds = time.perf_counter() - began
        server_cpu = cpu_seconds(server_pid) - cpu_before
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return Result(
        case.name,
        concurrency,
        len(latencies),
        errors,
        seconds,
        latencies,
        server_cpu,
        case.calls_per_request,
    )


def build_cases(demo: dict[str, Any], ids: dict[str, list[str]]) -> list[Case]:
    token = demo["page_token"]
    meta = {
        "access_token": token,
        "appsecret_proof": appsecret_proof(demo["meta_app_secret"], token),
    }
    post = ids["facebook"][0]
    metrics = (
        "post_media_view,post_total_media_view_unique,post_clicks,post_reactions_by_type_total"
    )
    fields = (
        "reactions.limit(0).summary(true),comments.limit(0).summary(true),shares,"
        f"insights.metric({metrics})"
    )
    batch = [
        {"method": "GET", "relative_url": f"{pid}/insights?metric={metrics}"}
        for pid in ids["facebook"][:50]
    ]
    li = {
        "Authorization": f"Bearer {demo['org_admin_token']}",
        "LinkedIn-Version": "202610",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    stats = (
        "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={encode_urn(demo['org_urn'])}"
        f"&shares={restli_list(ids['linkedin'][:20])}"
    )
    member = {**li, "Authorization": f"Bearer {demo['member_token']}"}
    analytics = (
        "/rest/memberCreatorPostAnalytics?q=entity"
        f"&entity={member_entity(ids['member'][0])}&queryType=IMPRESSION&aggregation=TOTAL"
    )
    return [
        Case(
            "meta GET /{post}/insights (4 metrics)",
            "GET",
            f"/v24.0/{post}/insights",
            params={"metric": metrics, **meta},
        ),
        Case(
            "meta GET /{post}?fields=counts+insights",
            "GET",
            f"/v24.0/{post}",
            params={"fields": fields, **meta},
        ),
        Case(
            f"meta POST / batch of {len(batch)} insights",
            "POST",
            "/v24.0/",
            data={"batch": json.dumps(batch), **meta},
            calls_per_request=len(batch),
        ),
        Case("linkedin orgShareStatistics (20 URNs)", "GET", stats, headers=li),
        Case("linkedin memberCreatorPostAnalytics", "GET", analytics, headers=member),
    ]


def print_table(results: list[Result], baseline: dict[int, float]) -> None:
    header = (
        f"{'endpoint':40} {'conc':>4} {'requests':>8} {'err':>4} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'vs ok':>6} {'srv us/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = r.rps / baseline[r.concurrency] if baseline.get(r.concurrency) else 0.0
        print(
            f"{r.case:40} {r.concurrency:>4} {r.requests:>8} {r.errors:>4} {r.rps:>7.0f} "
            f"{r.pct(0.5):>7.2f} {r.pct(0.99):>7.2f} {ratio:>6.2f} {r.server_us:>10.0f}"
        )


async def main(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",")]
    async with Sandbox() as sandbox, Baseline() as baseline_server:
        async with SandboxControl(sandbox.url) as ctl:
            await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
            demo = (await ctl.world())["demo"]
            began = time.perf_counter()
            fb = await ctl.seed_posts(
                "facebook", demo["page_id"], args.posts, age_hours=(1, 24 * 90)
            )
            seed_seconds = time.perf_counter() - began
            li = await ctl.seed_posts("linkedin", demo["org_id"], 100, age_hours=(1, 240))
            member = await ctl.seed_posts("linkedin", demo["member_id"], 10, age_hours=24)
        print(f"seeded {args.posts} posts in one control call: {seed_seconds:.2f} s (HTTP incl.)")
        cases = build_cases(demo, {"facebook": fb, "linkedin": li, "member": member})
        baseline: dict[int, float] = {}
        results: list[Result] = []
        ok_case = Case("baseline starlette GET /ok", "GET", "/ok")
        for level in levels:
            ok = await run_case(
                baseline_server.url,
                ok_case,
                level,
                args.duration,
                args.max_requests,
                baseline_server.pid,
            )
            baseline[level] = ok.rps
            results.append(ok)
            for case in cases:
                results.append(
                    await run_case(
                        sandbox.url, case, level, args.duration, args.max_requests, sandbox.pid
                    )
                )
    results.sort(key=lambda r: (r.case != ok_case.name, r.case, r.concurrency))
    print_table(results, baseline)
    for r in results:
        if r.calls_per_request > 1:
            print(
                f"  {r.case}, concurrency {r.concurrency}: "
                f"{r.rps * r.calls_per_request:.0f} Graph calls/s"
            )
    print("srv us/req: sandbox (or baseline) process CPU per request; 1e6 / it = req/s per core")
    if args.json:
        rows = [
            {
                "endpoint": r.case,
                "concurrency": r.concurrency,
                "requests": r.requests,
                "errors": r.errors,
                "rps": r.rps,
                "calls_per_request": r.calls_per_request,
                "p50_ms": r.pct(0.5),
                "p99_ms": r.pct(0.99),
                "server_us_per_request": r.server_us,
            }
            for r in results
        ]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r.errors == 0 for r in results) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds per endpoint and level"
    )
    parser.add_argument(
        "--max-requests", type=int, default=50_000, help="cap per endpoint and level"
    )
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--posts", type=int, default=100_000, help="facebook posts to seed first")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
