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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = 100.0  # os.sysconf("SC_CLK_TCK") on Linux
sys.path.insert(0, str(ROOT))

from app.sandbox.meta_auth import appsecret_proof  # noqa: E402
from app.sandbox.restli import encode_urn  # noqa: E402

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to measure the server's own cost."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    return Result(case.name, concurrency, len(latencies), errors, seconds, latencies, server_cpu)


def build_cases(world: dict[str, Any], ids: dict[str, list[str]]) -> list[Case]:
    demo = world["demo"]
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
    shares = ",".join(encode_urn(u) for u in ids["linkedin"][:20])
    stats = (
        "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={encode_urn(demo['org_urn'])}&shares=List({shares})"
    )
    member = {**li, "Authorization": f"Bearer {demo['member_token']}"}
    analytics = (
        "/rest/memberCreatorPostAnalytics?q=entity"
        f"&entity=(share:{encode_urn(ids['member'][0])})&queryType=IMPRESSION&aggregation=TOTAL"
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
            "meta POST / batch of 50 insights",
            "POST",
            "/v24.0/",
            data={"batch": json.dumps(batch), **meta},
            calls_per_request=50,
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


QUOTAS = (
    "meta_app_calls_per_hour",
    "meta_user_calls_per_hour",
    "meta_page_calls_per_day",
    "meta_ig_calls_per_day",
    "linkedin_app_calls_per_day",
    "linkedin_member_calls_per_day",
)


async def seed(
    control: httpx.AsyncClient, platform: str, owner: str, count: int, age: Any
) -> list[str]:
    body = {"platform": platform, "owner_id": owner, "count": count, "age_hours": age}
    response = await control.post("/_sandbox/posts", json=body)
    response.raise_for_status()
    return list(response.json()["ids"])


async def main(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",")]
    sb_port, ok_port = free_port(), free_port()
    sandbox = start(
        [sys.executable, "-m", "app.sandbox", "--port", str(sb_port), "--seed", "demo", "--quiet"]
    )
    baseline_proc = start([sys.executable, "-c", BASELINE_APP.replace("{port}", str(ok_port))])
    sb_base, ok_base = f"http://127.0.0.1:{sb_port}", f"http://127.0.0.1:{ok_port}"
    try:
        await wait_ready(f"{sb_base}/_sandbox/health", sandbox)
        await wait_ready(f"{ok_base}/ok", baseline_proc)
        async with httpx.AsyncClient(base_url=sb_base, timeout=60.0) as control:
            await control.put("/_sandbox/quotas", json=dict.fromkeys(QUOTAS, 10**9))
            world = (await control.get("/_sandbox/world")).json()
            demo = world["demo"]
            began = time.perf_counter()
            fb = await seed(control, "facebook", demo["page_id"], args.posts, [1, 24 * 90])
            seed_seconds = time.perf_counter() - began
            li = await seed(control, "linkedin", demo["org_id"], 100, [1, 240])
            member = await seed(control, "linkedin", demo["member_id"], 10, 24)
        print(f"seeded {args.posts} posts in one control call: {seed_seconds:.2f} s (HTTP incl.)")
        cases = build_cases(world, {"facebook": fb, "linkedin": li, "member": member})
        baseline: dict[int, float] = {}
        results: list[Result] = []
        ok_case = Case("baseline starlette GET /ok", "GET", "/ok")
        for level in levels:
            ok = await run_case(
                ok_base, ok_case, level, args.duration, args.max_requests, baseline_proc.pid
            )
            baseline[level] = ok.rps
            results.append(ok)
            for case in cases:
                results.append(
                    await run_case(
                        sb_base, case, level, args.duration, args.max_requests, sandbox.pid
                    )
                )
        results.sort(key=lambda r: (r.case != ok_case.name, r.case, r.concurrency))
        print_table(results, baseline)
        for r in results:
            if "batch" in r.case:
                print(f"  batch, concurrency {r.concurrency}: {r.rps * 50:.0f} Graph calls/s")
        print(
            "srv us/req: sandbox (or baseline) process CPU per request; 1e6 / it = req/s per core"
        )
        if args.json:
            rows = [
                {
                    "endpoint": r.case,
                    "concurrency": r.concurrency,
                    "requests": r.requests,
                    "errors": r.errors,
                    "rps": r.rps,
                    "p50_ms": r.pct(0.5),
                    "p99_ms": r.pct(0.99),
                    "server_us_per_request": r.server_us,
                }
                for r in results
            ]
            Path(args.json).write_text(json.dumps(rows, indent=2))
        return 0 if all(r.errors == 0 for r in results) else 1
    finally:
        for proc in (sandbox, baseline_proc):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


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
