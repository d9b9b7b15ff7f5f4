"""The API under load while the poller refreshes: latency and throughput per route.

A real `postmeter serve` process (and, on PostgreSQL, a `postmeter worker` process for the
poller, as deployed) against a sandbox process, with N posts tracked and all due, so the
poller refreshes them while the API is measured. For each number of concurrent connections,
each route is driven for `--seconds` by N client tasks over N real keep-alive sockets (a lean
HTTP/1.1 client on asyncio streams, uvloop), one request in flight per connection:

- `GET /api/v1/schedules` (a page of 50),
- `GET /api/v1/insights/metrics/{id}` (a random tracked post's schedule),
- `GET /healthz` (no database: what the server itself costs, beside the two).

Per window: requests, requests/s, p50/p99/max latency, non-2xx answers, the posts the poller
refreshed during the window (snapshot rows written: proof that it was writing), the CPU the
Postmeter processes and this load generator used, and the machine's load average.

    python bench/bench_api.py --db sqlite --posts 100000
    python bench/bench_api.py --db postgresql --posts 100000 --connections 1,8,32,128
    python bench/bench_api.py --db sqlite --posts 100000 --poller worker   # poller apart
    python bench/bench_api.py --db sqlite --posts 100000 --poller off      # no writes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.runtime import Runtime  # noqa: E402
from app.models import PostMetrics, Schedule, Workspace  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from app.services.workspaces import create_api_key  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DIR,
    QUOTAS,
    UNLIMITED,
    Sandbox,
    ServerProcess,
    create_accounts,
    fresh_database,
    machine,
    migrated_runtime,
    overrides,
    seed_posts,
    settings_values,
    track_posts,
    tree_cpu_seconds,
)
from bench.report import print_table  # noqa: E402

ROUTES = ("schedules", "metrics", "healthz")

# `serve` without its in-process worker (for --poller worker|off on SQLite): the same API
# server, the poller left to a `postmeter worker` process or to no one.
API_ONLY = """
import asyncio, sys
from app.cli.run import serve_api
from app.services.startup import command_runtime

async def main():
    async with command_runtime() as runtime:
        await serve_api(runtime.settings, runtime, "127.0.0.1", int(sys.argv[1]),
                        in_process_worker=False)

asyncio.run(main())
"""


class PostmeterProcess(ServerProcess):
    """`python -m app.cli serve|worker` with the bench's settings in its environment, started
    in its data folder (so no developer's `.env` is read)."""

    startup_timeout = 60.0  # migrations and DBOS's launch come first

    def __init__(
        self,
        role: str,
        values: dict[str, Any],
        cwd: Path,
        api_only: bool = False,
        workers: int = 1,
    ) -> None:
        super().__init__()
        self.name = f"postmeter-{role}"
        self.role = role
        self.cwd = cwd
        self.health_path = "/readyz" if role == "serve" else ""
        self.api_only = api_only
        self.workers = workers
        self.nice = int(
            values.get("SERVE_WORKER_NICE", Settings.model_fields["SERVE_WORKER_NICE"].default)
        )
        env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
        self.env = {**env, **{k: str(v) for k, v in values.items()}}

    def command(self) -> list[str]:
        if self.role == "serve" and self.api_only:
            if self.workers != 1:
                raise SystemExit("--workers: only with the poller in `serve` or on PostgreSQL")
            return [sys.executable, "-c", API_ONLY, str(self.port)]
        if self.role == "serve":
            return [
                *(sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)),
                *("--workers", str(self.workers)),
            ]
        # As `serve` runs SQLite's worker (SERVE_WORKER_NICE): the API first when they share
        # the machine's CPU.
        nice = ["nice", "-n", str(self.nice)] if self.nice else []
        return [*nice, sys.executable, "-m", "app.cli", "worker"]


@dataclass
class Window:
    connections: int
    route: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    refreshed: int = 0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    load: float = 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def non_2xx(self) -> int:
        return self.errors + sum(n for code, n in self.statuses.items() if not 200 <= code < 300)


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def snapshot_rows(runtime: Runtime) -> int:
    async with runtime.api_read_sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(PostMetrics)) or 0)


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time. A client of its own rather
    than httpx: httpx's pool costs more CPU per request as connections grow (at 128 it, not
    the server, was the bottleneck), and the load generator shares the machine's cores."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> int:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.head}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def drive(
    base: str, path_for: Any, headers: dict[str, str], connections: int, seconds: float
) -> Window:
    window = Window(connections=connections, route="")
    url = httpx.URL(base)
    assert url.port is not None
    conns = [Connection(url.host, url.port, headers) for _ in range(connections)]
    # Every connection open (and used once) before the clock starts.
    await asyncio.gather(*(c.open() for c in conns))
    await asyncio.gather(*(c.get("/healthz") for c in conns))
    deadline = time.perf_counter() + seconds

    async def one_connection(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = await conn.get(path_for())
            except (OSError, asyncio.IncompleteReadError, ValueError):
                window.errors += 1
                await conn.close()
                await conn.open()
                continue
            window.latencies.append(time.perf_counter() - started)
            window.statuses[status] = window.statuses.get(status, 0) + 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one_connection(c) for c in conns))
    finally:
        window.seconds = time.perf_counter() - started
        await asyncio.gather(*(c.close() for c in conns))
    return window


async def main(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}; db={args.db}; posts={args.posts}; "
          f"connections={args.connections}; {args.seconds} s per window; "
          f"load average at start {os.getloadavg()[0]:.2f}")  # fmt: skip
    async with Sandbox(args.sandbox_nice) as sandbox, SandboxControl(sandbox.url) as ctl:
        await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
        if args.latency_ms:
            await ctl.set_fault("*", "slow", latency_ms=args.latency_ms)
        demo = (await ctl.world())["demo"]
        accounts = await create_accounts(ctl, demo, {"fb": 8, "ig": 6, "li_org": 6})
        per_account = args.posts // len(accounts)
        for i, acc in enumerate(accounts):
            extra = args.posts - per_account * len(accounts) if i == 0 else 0
            await seed_posts(ctl, acc, per_account + extra)
        data_dir = BENCH_DIR / f"api-{args.db}"
        db_url = fresh_database(args.db, data_dir, name="pm_bench_api")
        values = settings_values(
            db_url,
            data_dir,
            sandbox.url,
            demo["meta_app_secret"],
            INSIGHTS_POLL_TICK_SECONDS=2,
            # Measured here: the database path. The API's rate limits (per key: 1,200/min)
            # would answer most of this load with 429.
            RATE_LIMIT_ENABLED="false",
            LOG_LEVEL="WARNING",
            WORKER_ID="bench-api",
        )
        values.update(overrides(args.set))
        runtime = await migrated_runtime(values)
        tracked = await track_posts(runtime, accounts)
        async with runtime.sessionmaker() as session, session.begin():
            workspace = await session.scalar(select(Workspace.id).where(Workspace.name == "bench"))
            assert workspace is not None
            key = await create_api_key(session, workspace_id=workspace)
            ids = list((await session.scalars(select(Schedule.id).limit(5000))).all())
        print(f"tracked {tracked} posts (all due now); {len(ids)} schedule ids for metrics")
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        paths: dict[str, Any] = {
            "schedules": lambda: "/api/v1/schedules?limit=50",
            "metrics": lambda: f"/api/v1/insights/metrics/{random.choice(ids)}",
            "healthz": lambda: "/healthz",
        }
        # SQLite's `postmeter serve` runs the poller in-process; on PostgreSQL it is a worker.
        poller = args.poller or ("in-process" if args.db == "sqlite" else "worker")
        if poller == "in-process" and args.db != "sqlite":
            raise SystemExit("--poller in-process: only SQLite's serve runs the poller itself")
        print(f"poller: {poller}")
        serve = PostmeterProcess(
            # On PostgreSQL `postmeter serve` itself runs no background work.
            "serve",
            values,
            data_dir,
            api_only=poller != "in-process" and args.db == "sqlite",
            workers=args.workers,
        )
        worker = PostmeterProcess("worker", {**values, "WORKER_ID": "bench-api-w"}, data_dir)
        windows: list[Window] = []
        async with serve:
            procs = [serve]
            if poller == "worker":
                await worker.__aenter__()
                procs.append(worker)
            try:
                if poller != "off":
                    await wait_for_poller(runtime, timeout=120)
                for connections in args.connections:
                    for route in ROUTES:
                        windows.append(
                            await measure(runtime, serve, procs, paths, headers, connections,
                                          route, args.seconds)
                        )  # fmt: skip
                        w = windows[-1]
                        print(f"  {connections:>4} conns {route:9} {w.requests / w.seconds:7.0f}"
                              f" req/s p99 {w.quantile(0.99):7.1f} ms, refreshed {w.refreshed}",
                              flush=True)  # fmt: skip
                total = await snapshot_rows(runtime)
            finally:
                if poller == "worker":
                    await worker.__aexit__()
        await runtime.aclose()
    report(windows, total, tracked, poller)
    return 0


async def wait_for_poller(runtime: Runtime, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await snapshot_rows(runtime) > 0:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("the poller wrote no snapshot")


async def measure(
    runtime: Runtime,
    serve: PostmeterProcess,
    procs: list[PostmeterProcess],
    paths: dict[str, Any],
    headers: dict[str, str],
    connections: int,
    route: str,
    seconds: float,
) -> Window:
    rows_before = await snapshot_rows(runtime)
    # Every Postmeter process: `serve`'s own children (its API processes, SQLite's background
    # worker) included.
    cpu_before = sum(tree_cpu_seconds(p.pid) for p in procs)
    client_before = client_cpu()
    window = await drive(serve.url, paths[route], headers, connections, seconds)
    window.route = route
    window.server_cpu_s = sum(tree_cpu_seconds(p.pid) for p in procs) - cpu_before
    window.client_cpu_s = client_cpu() - client_before
    window.refreshed = await snapshot_rows(runtime) - rows_before
    window.load = os.getloadavg()[0]
    return window


def report(windows: list[Window], total: int, tracked: int, poller: str) -> None:
    print()
    rows = []
    for w in windows:
        rows.append([
            w.connections, w.route, w.requests, w.requests / w.seconds, w.quantile(0.5),
            w.quantile(0.99), max(w.latencies, default=0) * 1000, w.non_2xx,
            w.refreshed, w.refreshed / w.seconds, w.server_cpu_s / w.seconds * 100,
            w.client_cpu_s / w.seconds * 100, w.load,
        ])  # fmt: skip
    print_table(
        ["conns", "route", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx",
         "posts refreshed", "refreshed/s", "postmeter cpu %", "client cpu %", "load 1m"], rows,
    )  # fmt: skip
    codes: dict[int, int] = {}
    for w in windows:
        for code, n in w.statuses.items():
            codes[code] = codes.get(code, 0) + n
    print(f"\nstatus codes over the run: {codes}; snapshots at the end: {total} of {tracked} posts")
    for route in ("schedules", "metrics"):
        at32 = next((w for w in windows if w.route == route and w.connections == 32), None)
        if at32 is not None:
            verdict = "yes" if at32.quantile(0.99) < 100 else "NO"
            print(f"target p99 < 100 ms at 32 connections, {route}: "
                  f"{at32.quantile(0.99):.1f} ms -> {verdict}")  # fmt: skip
    idle = [w for w in windows if w.refreshed == 0]
    if idle and poller != "off":
        print(f"warning: the poller wrote nothing during {len(idle)} window(s)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--posts", type=int, default=100_000)
    p.add_argument(
        "--connections", type=lambda raw: [int(v) for v in raw.split(",")], default=[1, 8, 32, 128]
    )
    p.add_argument("--seconds", type=float, default=4.0, help="per route and connection count")
    p.add_argument("--latency-ms", type=int, default=0, help="sandbox latency (slows the poller)")
    p.add_argument(
        "--poller",
        choices=["in-process", "worker", "off"],
        default=None,
        help="where the poller runs: in `serve` (SQLite's default), in a `postmeter worker`"
        " process (PostgreSQL's), or nowhere (a baseline without writes)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="`postmeter serve --workers N`: API processes"
    )
    p.add_argument(
        "--sandbox-nice",
        type=int,
        default=0,
        help="run the sandbox (the platforms' stand-in: not on Postmeter's machine in"
        " production) at this niceness, so it takes only the CPU the rest leaves",
    )
    p.add_argument("--set", action="append", default=[], help="a Postmeter setting, KEY=VALUE")
    return p.parse_args()


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse_args())))
