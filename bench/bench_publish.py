"""Publishing at scale: due schedules published by `postmeter worker` processes, counted on the
platform's side (issue 9).

Per run: a fresh database and a fresh sandbox process (100 ms on every platform request), the
accounts spread over Facebook pages, Instagram accounts and LinkedIn organizations, one target
per schedule (round robin over the accounts), every `publish_at` within one minute, and
`--workers` real `postmeter worker` processes (engine + poller, as in production). Runs:

- ``clean``: no faults;
- ``faults``: 5 % of creates (and POSTs) fail: the post created but the reply lost (500, reset
  connection, timeout past the client's read timeout), created then answered a Graph error,
  and 503s before anything was created;
- ``kill``: no faults, and one worker killed with ``kill -9`` every ``--kill-every`` seconds
  (round robin) and restarted under its WORKER_ID at once.

Measured from the sandbox's published log (what the platform actually created, with its
creation time), not from Postmeter's tables: publish lag from ``publish_at`` to creation,
posts per target (duplicates), targets settled (final state), targets lost.

    python bench/bench_publish.py --schedules 100 --accounts 10 --workers 2
    python bench/bench_publish.py                      # 1,000 schedules, 50 accounts, 4 workers
    python bench/bench_publish.py --runs faults,kill
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

from app.core.runtime import Runtime  # noqa: E402
from app.models import (  # noqa: E402
    Schedule,
    ScheduleStatus,
    ScheduleTarget,
    TargetState,
)
from app.models.base import new_id  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from app.sandbox.publish_faults import LostMode  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DIR,
    QUOTAS,
    ROOT,
    UNLIMITED,
    Account,
    Sandbox,
    create_accounts,
    fresh_database,
    insert_accounts,
    machine,
    migrated_runtime,
    settings_values,
)
from bench.report import print_table  # noqa: E402

FINAL = {TargetState.POSTED, TargetState.FAILED, TargetState.UNKNOWN}
MARKER = r"(pb\d+q)"  # letters and digits only: LinkedIn escapes punctuation in commentary


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- the world ------------------------------------------------------------------------------


@dataclass
class Plan:
    """The schedules of one run: marker -> (target id, provider, publish_at)."""

    targets: dict[str, tuple[uuid.UUID, str, datetime]] = field(default_factory=dict)

    @property
    def last_due(self) -> datetime:
        return max(at for _, _, at in self.targets.values())


async def insert_schedules(
    runtime: Runtime, accounts: list[Account], *, count: int, start: datetime, spread: float,
    media_url: str,
) -> Plan:  # fmt: skip
    """`count` scheduled posts, one account each (round robin), due over `spread` seconds.
    Instagram posts and every other Facebook/LinkedIn post carry an image."""
    ws = await insert_accounts(runtime, accounts, "bench publish")
    plan = Plan()
    async with runtime.sessionmaker() as session, session.begin():
        schedules, targets = [], []
        for i in range(count):
            acc = accounts[i % len(accounts)]
            marker = f"pb{i}q"
            at = start + timedelta(seconds=spread * i / max(count, 1))
            image = acc.key == "ig" or i % 2 == 0
            sid, tid = new_id(), new_id()
            schedules.append({
                "id": sid, "workspace_id": ws, "status": ScheduleStatus.SCHEDULED,
                "text": f"Benchmark post {marker} for {acc.key}",
                "media_urls": [media_url] if image else [], "publish_at": at,
            })  # fmt: skip
            targets.append(
                {"id": tid, "schedule_id": sid, "account_id": acc.row_id, "provider": acc.provider}
            )
            plan.targets[marker] = (tid, acc.provider.value, at)
        await session.execute(insert(Schedule), schedules)
        await session.execute(insert(ScheduleTarget), targets)
    return plan


async def set_faults(ctl: SandboxControl, run: str, latency_ms: int) -> str:
    """The run's fault rules (request faults are checked in order: the 503s come first)."""
    rules = []
    if run == "faults":
        lost: tuple[tuple[LostMode, float], ...] = (
            ("5xx", 0.015), ("reset", 0.01), ("timeout", 0.01)
        )  # fmt: skip
        for n, (mode, rate) in enumerate(lost):
            await ctl.set_publish_fault("lost_reply", mode=mode, rate=rate, seed=10 + n,
                                        delay_ms=15_000)  # fmt: skip
        await ctl.set_publish_fault("error_after_create", rate=0.005, seed=20)
        await ctl.set_fault("*", "5xx", method="POST", rate=0.01, status=503,
                            latency_ms=latency_ms, seed=21)  # fmt: skip
        rules.append("5 %: lost reply after create 1.5 % 500 / 1 % reset / 1 % timeout, "
                     "0.5 % Graph error after create, 1 % 503 on POSTs")  # fmt: skip
    if latency_ms:
        await ctl.set_fault("*", "slow", latency_ms=latency_ms)
        rules.append(f"{latency_ms} ms on every platform request")
    return "; ".join(rules) or "none"


# --- workers ---------------------------------------------------------------------------------


class Worker:
    """`postmeter worker` under a fixed WORKER_ID; its output appended to a log file."""

    def __init__(self, env: dict[str, str], worker_id: str, log: Path) -> None:
        self.env = {**env, "WORKER_ID": worker_id}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=self.env["DATA_DIR"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill_and_restart(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        self.start()

    def interrupt(self) -> None:
        """Ctrl-C (as `stop_workers` sends it to all at once)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)


def stop_workers(workers: list[Worker], timeout: float = 30) -> str:
    """Ctrl-C to every worker, then wait; kill what is still running after `timeout` s.
    Returns how long each took to exit (an exit that needed a kill is reported as such)."""
    started = time.monotonic()
    for w in workers:
        w.interrupt()
    took = []
    for w in workers:
        if w.proc is None:
            continue
        left = max(0.1, timeout - (time.monotonic() - started))
        try:
            w.proc.wait(timeout=left)
            took.append(f"{time.monotonic() - started:.1f} s")
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
            took.append(f"killed after {timeout:g} s")
    return ", ".join(took)


async def wait_started(workers: list[Worker], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [w.log.read_text(errors="replace") for w in workers]
        if all(log.count("background.started") >= 1 for log in logs):
            return
        for w in workers:
            if w.proc is not None and w.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {w.log.read_text()[-3000:]}")
        await asyncio.sleep(0.2)
    raise RuntimeError("workers did not start")


def worker_env(values: dict[str, Any]) -> dict[str, str]:
    """Only these settings (run outside the checkout, so no developer `.env` is read)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    settings = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
    return {**keep, **settings, "PYTHONPATH": str(ROOT)}


# --- measuring -------------------------------------------------------------------------------


async def target_states(runtime: Runtime, plan: Plan) -> dict[uuid.UUID, TargetState]:
    ids = [tid for tid, _, _ in plan.targets.values()]
    async with runtime.sessionmaker() as s:
        rows = await s.execute(
            select(ScheduleTarget.id, ScheduleTarget.state).where(ScheduleTarget.id.in_(ids))
        )
        return {tid: TargetState(state) for tid, state in rows}


async def wait_settled(
    runtime: Runtime, plan: Plan, workers: list[Worker], *, kill_every: float, timeout: float
) -> float:
    """Until every target is final (killing a worker every `kill_every` s, if > 0); returns
    seconds from the last `publish_at` to then."""
    deadline = time.monotonic() + timeout
    next_kill = time.monotonic() + kill_every
    victim = 0
    while time.monotonic() < deadline:
        states = await target_states(runtime, plan)
        if all(state in FINAL for state in states.values()):
            return (datetime.now(UTC) - plan.last_due).total_seconds()
        if kill_every > 0 and time.monotonic() >= next_kill:
            workers[victim % len(workers)].kill_and_restart()
            victim += 1
            next_kill = time.monotonic() + kill_every
        await asyncio.sleep(0.5)
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(runtime: Runtime, ctl: SandboxControl, plan: Plan) -> dict[str, Any]:
    """Outcomes from the platform's side: posts per target, lag, lost and unsettled targets."""
    report = await ctl.published(marker=MARKER)
    created: dict[str, list[float]] = {}
    for post in report["posts"]:
        key = next((t["key"] for t in report["targets"] if post["post_id"] in t["post_ids"]), None)
        if key is not None:
            created.setdefault(key, []).append(float(post["created_at"]))
    states = await target_states(runtime, plan)
    by_state = dict.fromkeys(TargetState, 0)
    lags: list[float] = []
    by_provider: dict[str, list[float]] = {}
    duplicates, lost, ghost, unknown_with_post = 0, 0, 0, 0
    for marker, (tid, provider, at) in plan.targets.items():
        state = states[tid]
        by_state[state] += 1
        posts = created.get(marker, [])
        duplicates += max(0, len(posts) - 1)
        if posts:
            lags.append(min(posts) - at.timestamp())
            by_provider.setdefault(provider, []).append(lags[-1])
        if state == TargetState.POSTED and not posts:
            lost += 1  # Postmeter says posted, the platform has nothing
        elif state not in FINAL:
            lost += 1  # never settled
        elif state == TargetState.FAILED and posts:
            ghost += 1  # a post Postmeter does not know about
        elif state == TargetState.UNKNOWN and posts:
            unknown_with_post += 1
    posted = by_state[TargetState.POSTED]
    exactly_one = sum(
        1
        for marker, (tid, _, _) in plan.targets.items()
        if states[tid] == TargetState.POSTED and len(created.get(marker, [])) == 1
    )
    return {
        "targets": len(plan.targets), "posted": posted, "failed": by_state[TargetState.FAILED],
        "unknown": by_state[TargetState.UNKNOWN],
        "settled": sum(by_state[s] for s in FINAL) / max(len(plan.targets), 1),
        "posted_exactly_one": exactly_one, "duplicates": duplicates, "lost": lost,
        "ghost": ghost, "unknown_with_post": unknown_with_post, "posts": report["total"],
        "lag_p50": percentile(lags, 0.5), "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags, default=float("nan")),
        "lag_mean": statistics.fmean(lags) if lags else float("nan"),
        "lag_by_provider": {
            p: f"p50 {percentile(v, 0.5):.1f} / p99 {percentile(v, 0.99):.1f} s"
            for p, v in sorted(by_provider.items())
        },
    }  # fmt: skip


async def failure_kinds(runtime: Runtime, plan: Plan) -> dict[str, int]:
    ids = [tid for tid, _, _ in plan.targets.values()]
    async with runtime.sessionmaker() as s:
        rows = await s.execute(
            select(ScheduleTarget.provider, ScheduleTarget.error_kind, ScheduleTarget.error).where(
                ScheduleTarget.id.in_(ids), ScheduleTarget.state != TargetState.POSTED
            )
        )
        kinds: dict[str, int] = {}
        for provider, kind, error in rows:
            label = f"{provider}:{kind}:{(error or '')[:60]}"
            kinds[label] = kinds.get(label, 0) + 1
    return kinds


# --- a run -----------------------------------------------------------------------------------


async def one_run(args: argparse.Namespace, run: str) -> dict[str, Any]:
    data_dir = BENCH_DIR / f"publish-{run}"
    db_url = fresh_database(args.db, data_dir, name=args.pg_database)
    kinds = ("fb", "ig", "li_org")
    counts = dict(zip(kinds, split(args.accounts, len(kinds)), strict=True))
    async with Sandbox() as sandbox, SandboxControl(sandbox.url) as ctl:
        await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
        demo = (await ctl.world())["demo"]
        accounts = await create_accounts(ctl, demo, counts)
        values = settings_values(
            db_url, data_dir, sandbox.url, demo["meta_app_secret"],
            MEDIA_ALLOW_PRIVATE_URLS=True, PUBLISH_HTTP_TIMEOUT_SECONDS=args.http_timeout,
            LOG_LEVEL="INFO", LOG_FORMAT="json", **dict(kv.split("=", 1) for kv in args.set),
        )  # fmt: skip
        runtime = await migrated_runtime(values)
        env = worker_env(values)
        workers = [
            Worker(env, f"bench-{run}-w{n}", data_dir / f"worker-{n}.log")
            for n in range(args.workers)
        ]
        try:
            for w in workers:
                w.start()
            await wait_started(workers)
            faults = await set_faults(
                ctl, "faults" if run == "faults" else "clean", args.latency_ms
            )
            start = datetime.now(UTC) + timedelta(seconds=args.lead)
            plan = await insert_schedules(
                runtime, accounts, count=args.schedules, start=start, spread=args.spread,
                media_url=ctl.media_url("bench.jpg"),
            )  # fmt: skip
            settle = await wait_settled(
                runtime, plan, workers, kill_every=args.kill_every if run == "kill" else 0,
                timeout=args.timeout,
            )  # fmt: skip
        finally:
            stopped = stop_workers(workers)
        result = await measure(runtime, ctl, plan)
        result.update(
            run=run, faults=faults, settle_s=settle, kills=sum(w.kills for w in workers),
            stopped=stopped,
            fired={f"{r['kind']}:{r.get('mode', '')}": r.get("fired")
                   for r in await ctl.publish_faults()},
            not_posted=await failure_kinds(runtime, plan),
        )  # fmt: skip
        await runtime.aclose()
    return result


async def main(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}; db={args.db}; schedules={args.schedules}; "
          f"accounts={args.accounts} (fb/ig/li_org); workers={args.workers}; "
          f"latency={args.latency_ms} ms; publish_at spread over {args.spread:g} s; "
          f"settings: {args.set}")  # fmt: skip
    results = []
    for run in args.runs.split(","):
        result = await one_run(args, run)
        results.append(result)
        print(f"{run}: faults: {result['faults']}; fired: {result['fired']}; "
              f"kills: {result['kills']}; not posted: {result['not_posted']}; "
              f"lag by platform: {result['lag_by_provider']}; "
              f"workers exited on Ctrl-C after: {result['stopped']}")  # fmt: skip
    headers = ["run", "targets", "posted", "failed", "unknown", "settled", "lag p50 s",
               "lag p99 s", "lag max s", "posts", "1 post/posted", "dups", "lost", "ghost",
               "settled after s"]  # fmt: skip
    rows = [
        [r["run"], r["targets"], r["posted"], r["failed"], r["unknown"], f"{r['settled']:.1%}",
         r["lag_p50"], r["lag_p99"], r["lag_max"], r["posts"],
         f"{r['posted_exactly_one']}/{r['posted']}", r["duplicates"], r["lost"], r["ghost"],
         r["settle_s"]]
        for r in results
    ]  # fmt: skip
    print_table(headers, rows)
    ok = all(r["duplicates"] == 0 and r["lost"] == 0 and r["settled"] == 1 for r in results)
    clean = [r for r in results if r["run"] == "clean"]
    if clean and not clean[0]["lag_p99"] <= 5.0:
        print(f"lag target missed: p99 {clean[0]['lag_p99']:.2f} s > 5 s without faults")
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedules", type=int, default=1000)
    p.add_argument("--accounts", type=int, default=50, help="split over fb / ig / li_org")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--runs", default="clean,faults,kill")
    p.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--pg-database", default="postmeter_p4_bench")
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--spread", type=float, default=60.0, help="publish_at spread (seconds)")
    p.add_argument("--lead", type=float, default=5.0, help="seconds before the first is due")
    p.add_argument("--kill-every", type=float, default=10.0)
    p.add_argument("--http-timeout", type=float, default=5.0, help="PUBLISH_HTTP_TIMEOUT_SECONDS")
    p.add_argument("--timeout", type=float, default=900.0, help="per run, until all settle")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other Postmeter setting, e.g. PUBLISH_ACCOUNT_CONCURRENCY=4",
    )
    return p.parse_args()


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(asyncio.run(main(parse_args())))
