"""CPU per request inside the API process: the app called in place, no network, no load.

`bench_api.py` measures the API as a client sees it, with the poller, the sandbox and the load
generator sharing the machine; its figures drift with whatever else runs. This measures what
the server itself spends on one request of each route: the ASGI app (every middleware, the key
check, the route, the database reads, the JSON) called directly with a request's scope, one
request at a time, CPU time of this process per request, the median of `--rounds` rounds
(and the wall time per request: on PostgreSQL it adds the round trips and the server's work).
`/healthz` (no key, no database) is the baseline of the same run: the routes' figures minus it
are what their own work costs, and ratios between runs on one machine hold where absolute
times drift.

The data: `--posts` posts on sandbox accounts, tracked as `bench_api.py` tracks them (a
schedule per post) and refreshed once through the real refresher, so every post has its
snapshots and analytics.

    python bench/bench_request_cpu.py --db sqlite
    python bench/bench_request_cpu.py --db postgresql --posts 5000 --rounds 7
    python bench/bench_request_cpu.py --posts 100000 --routes summary \
        --set INSIGHTS_SUMMARY_CACHE_SECONDS=0
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from app.core.runtime import tune_gc_for_service  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Schedule, Workspace  # noqa: E402
from app.routes.deps import SERVICES_STATE_KEY  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from app.services.insights_refresh import InsightsRefresher  # noqa: E402
from app.services.platform_clients import build_platform_clients  # noqa: E402
from app.services.poll_planner import parse_ids  # noqa: E402
from app.services.workspaces import create_api_key  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DIR,
    QUOTAS,
    UNLIMITED,
    Sandbox,
    claim_due,
    create_accounts,
    fresh_database,
    machine,
    migrated_runtime,
    overrides,
    seed_posts,
    settings_values,
    track_posts,
)
from bench.report import print_table  # noqa: E402


class Reply:
    """What the app sent for one request."""

    def __init__(self) -> None:
        self.status = 0
        self.body = bytearray()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def scope_for(target: str, headers: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
    path, _, query = target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": dict(state),  # a copy per request, as uvicorn gives the lifespan's state
    }


async def refresh_all(runtime: Any) -> int:
    """Every tracked post refreshed once by the real refresher (snapshots and analytics)."""
    clients = build_platform_clients(runtime.settings)
    refresher = InsightsRefresher(runtime, clients)
    fetched = 0
    try:
        for batch in await claim_due(runtime):
            report = await refresher.refresh(parse_ids(batch.external_row_ids))
            fetched += report.count("fetched")
    finally:
        await clients.aclose()
    return fetched


async def main(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}; db={args.db}; posts={args.posts}; rounds={args.rounds} of "
          f"{args.requests} requests per route; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    async with Sandbox() as sandbox, SandboxControl(sandbox.url) as ctl:
        await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
        demo = (await ctl.world())["demo"]
        accounts = await create_accounts(ctl, demo, {"fb": 2, "ig": 1, "li_org": 1})
        for acc in accounts:
            await seed_posts(ctl, acc, args.posts // len(accounts))
        data_dir = BENCH_DIR / f"request-cpu-{args.db}"
        db_url = fresh_database(args.db, data_dir, name="pm_bench_request_cpu")
        values = settings_values(
            db_url, data_dir, sandbox.url, demo["meta_app_secret"], RATE_LIMIT_ENABLED="false"
        )
        values.update(overrides(args.set))
        runtime = await migrated_runtime(values)
        tracked = await track_posts(runtime, accounts)
        fetched = await refresh_all(runtime)
        async with runtime.sessionmaker() as session, session.begin():
            workspace = await session.scalar(select(Workspace.id).where(Workspace.name == "bench"))
            assert workspace is not None
            key = await create_api_key(session, workspace_id=workspace)
            ids = list((await session.scalars(select(Schedule.id).limit(5000))).all())
        print(f"tracked {tracked} posts, {fetched} refreshed")
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        routes: dict[str, tuple[Callable[[], str], dict[str, str]]] = {
            "healthz": (lambda: "/healthz", {}),
            "accounts": (lambda: "/api/v1/accounts", headers),
            "schedules": (lambda: "/api/v1/schedules?limit=50", headers),
            "metrics": (lambda: f"/api/v1/insights/metrics/{random.choice(ids)}", headers),
            "summary": (lambda: "/api/v1/insights/summary", headers),
        }
        routes = {name: routes[name] for name in ["healthz", *args.routes] if name in routes}
        app = create_app(runtime.settings, runtime=runtime)
        tune_gc_for_service()  # as `serve` does once it has started
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in routes}
        async with app.router.lifespan_context(app) as lifespan_state:
            state = dict(lifespan_state or {})
            assert SERVICES_STATE_KEY in state
            for _ in range(args.rounds):
                for name, (target, route_headers) in routes.items():
                    results[name].append(
                        await one_round(app, target, route_headers, state, args.requests)
                    )
        await runtime.aclose()
    base = statistics.median(cpu for cpu, _ in results["healthz"])
    rows = []
    for name, samples in results.items():
        cpu = [c for c, _ in samples]
        median = statistics.median(cpu)
        wall = statistics.median(w for _, w in samples)
        rows.append([name, median, min(cpu), max(cpu), median - base, median / base, wall])
    print()
    print_table(
        ["route", "cpu ms/request (median)", "min", "max", "minus /healthz", "x /healthz",
         "wall ms/request (median)"],
        rows,
    )  # fmt: skip
    return 0


async def one_round(
    app: Any, target: Callable[[], str], headers: dict[str, str], state: dict[str, Any], n: int
) -> tuple[float, float]:
    """CPU and wall ms per request over `n` requests, one at a time (each checked: 200)."""
    scopes = [scope_for(target(), headers, state) for _ in range(n)]
    start, wall = time.process_time(), time.perf_counter()
    for scope in scopes:
        reply = Reply()
        await app(scope, _receive, reply.send)
        if reply.status != 200:
            raise SystemExit(f"{scope['path']}: {reply.status} {bytes(reply.body)[:300]!r}")
    return (
        (time.process_time() - start) * 1000 / n,
        (time.perf_counter() - wall) * 1000 / n,
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--posts", type=int, default=4000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=300, help="per route and round")
    p.add_argument(
        "--routes",
        type=lambda raw: raw.split(","),
        default=["accounts", "schedules", "metrics", "summary"],
        help="besides /healthz, always measured",
    )
    p.add_argument("--set", action="append", default=[], help="a Postmeter setting, KEY=VALUE")
    return p.parse_args()


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse_args())))
