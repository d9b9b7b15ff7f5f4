"""Posts refreshed per second end to end (fetch, map, upsert, recompute) through the DBOS poller.

The sandbox runs in its own process; the posts are seeded there, tracked in a fresh database
(bulk inserts), and each variant runs in a fresh child process (``bench/postmeter_proc.py``)
whose peak RSS is reported. Variants, on the same posts in the same run (state reset between):

- ``fetch``: platform clients only, same batches and concurrency (HTTP + sandbox ceiling),
- ``refresher``: ``InsightsRefresher.refresh`` per batch without DBOS (adds map + database),
- ``poller``: the real ``start_poller(schedule=False)`` + ``run_once()`` (adds DBOS).

After each database variant every tracked post must have exactly one snapshot row or a
recorded error (``schedule_external.last_error_kind``), and none may be lost. The sandbox
answers page-post insights with time-paging links as the real API does (``--time-paging off``
to compare).

    python bench/bench_throughput.py --db sqlite --posts 100000
    python bench/bench_throughput.py --db postgresql --posts 100000 --latency-ms 0,50 --modes poller
    python bench/bench_throughput.py --db sqlite --posts 100000 --faults 0.05 --modes poller
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.models.base import utcnow  # noqa: E402
from app.sandbox.client import SandboxControl  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH_DIR,
    QUOTAS,
    UNLIMITED,
    Sandbox,
    cpu_seconds,
    create_accounts,
    fresh_database,
    machine,
    make_settings,
    migrated_runtime,
    overrides,
    reset_tracking,
    run_child,
    seed_posts,
    settings_values,
    track_posts,
)
from bench.report import print_table, profile_summary, verify_outcomes  # noqa: E402

DATA = BENCH_DIR


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def parse_mix(raw: str) -> dict[str, float]:
    mix = {k: float(v) for k, v in (part.split("=") for part in raw.split(","))}
    return {k: v / sum(mix.values()) for k, v in mix.items() if v > 0}


async def set_faults(
    ctl: SandboxControl, args: argparse.Namespace, timeout: float, latency_ms: int
) -> str:
    await ctl.clear_faults()
    rules = []
    if args.faults > 0:
        # 5 % = 2 % 429 + 2 % 503 + 1 % answers slower than the client timeout.
        f = args.faults
        await ctl.set_fault("*", "429", rate=f * 0.4, seed=1)
        await ctl.set_fault("*", "5xx", rate=f * 0.4, status=503, seed=2)
        await ctl.set_fault("*", "slow", rate=f * 0.2, latency_ms=int(timeout * 2500), seed=3)
        rules.append(f"{f:.0%} faults (429/503/timeout = 40/40/20)")
    if latency_ms:
        await ctl.set_fault("*", "slow", latency_ms=latency_ms)
        rules.append(f"{latency_ms} ms on every platform request")
    return ", ".join(rules) or "none"


async def main(args: argparse.Namespace) -> int:
    mix = parse_mix(args.mix)
    kinds = list(mix)
    per_kind_accounts = dict(zip(kinds, split(args.accounts, len(kinds)), strict=True))
    over: dict[str, Any] = {
        "INSIGHTS_BATCH_SIZE": args.batch_size,
        "INSIGHTS_WORKER_CONCURRENCY": args.worker_concurrency,
        "INSIGHTS_ACCOUNT_CONCURRENCY": args.account_concurrency,
    }
    if args.faults:
        over["INSIGHTS_HTTP_TIMEOUT_SECONDS"] = args.http_timeout
    over.update(overrides(args.set))  # any other setting, e.g. META_MAX_REQUESTS_PER_SECOND=200
    if args.queue_poll:
        over["INSIGHTS_QUEUE_POLL_SECONDS"] = args.queue_poll
    print(f"machine: {machine()}; db={args.db}; posts={args.posts}; mix={args.mix}; "
          f"accounts={per_kind_accounts}; time paging: {args.time_paging}; "
          f"settings={over}")  # fmt: skip
    async with Sandbox() as sandbox, SandboxControl(sandbox.url) as ctl:
        await ctl.set_quotas(app_id=None, **dict.fromkeys(QUOTAS, UNLIMITED))
        await ctl.set_time_paging(args.time_paging == "on")
        demo = (await ctl.world())["demo"]
        accounts = await create_accounts(ctl, demo, per_kind_accounts)
        t0 = time.perf_counter()
        posts_per_kind = {k: round(args.posts * mix[k]) for k in kinds}
        posts_per_kind[kinds[-1]] += args.posts - sum(posts_per_kind.values())
        for kind in kinds:
            group = [a for a in accounts if a.key == kind]
            for acc, n in zip(group, split(posts_per_kind[kind], len(group)), strict=True):
                await seed_posts(ctl, acc, n)
        seeded = time.perf_counter() - t0
        data_dir = DATA / args.db
        db_url = fresh_database(args.db, data_dir)
        values = settings_values(db_url, data_dir, sandbox.url, demo["meta_app_secret"], **over)
        settings = make_settings(values)
        runtime = await migrated_runtime(values)
        t0 = time.perf_counter()
        tracked = await track_posts(runtime, accounts)
        print(f"seeded {args.posts} sandbox posts in {seeded:.1f} s; tracked {tracked} rows "
              f"in {time.perf_counter() - t0:.1f} s (bulk insert)")  # fmt: skip
        results, checks = [], []
        runs = [(ms, mode) for ms in args.latency_ms for mode in args.modes.split(",")]
        for i, (latency_ms, mode) in enumerate(runs):
            if i == 0 or latency_ms != runs[i - 1][0]:
                timeout = settings.INSIGHTS_HTTP_TIMEOUT_SECONDS
                print(f"injected: {await set_faults(ctl, args, timeout, latency_ms)}")
            if i:
                await reset_tracking(runtime)
            await ctl.reset_counters()
            since, sb_cpu = utcnow(), cpu_seconds(sandbox.pid)
            config = {"mode": mode, "settings": values, "patches": args.patch}
            stem = f"{args.db}-{mode}" + (f"-{latency_ms}ms" if len(args.latency_ms) > 1 else "")
            if args.profile:
                config["profile"] = str(DATA / f"{stem}.prof")
            spy = str(DATA / f"{stem}.pyspy") if args.pyspy else None
            res = run_child(config, timeout=args.timeout, pyspy=spy)
            if spy:
                print(
                    f"py-spy ({mode}): samples holding the GIL, inclusive/self, frames in this repo"
                )
                print_table(["incl", "self", "frame"], profile_summary(spy))
            res["latency_ms"] = latency_ms
            if len(args.latency_ms) > 1:
                res["mode"] = f"{mode} +{latency_ms}ms"
            res["sandbox_cpu_s"] = cpu_seconds(sandbox.pid) - sb_cpu
            res["sandbox_requests"] = (await ctl.counters()).get("requests", 0)
            results.append(res)
            if mode != "fetch":
                checks.append((res["mode"], await verify_outcomes(runtime, since)))
        await runtime.aclose()
    report(args, results, checks, settings, tracked)
    return 0


def report(
    args: argparse.Namespace,
    results: list[dict[str, Any]],
    checks: list[tuple[str, dict[str, Any]]],
    settings: Any,
    tracked: int,
) -> None:
    print()
    rows = []
    for r in results:
        calls = sum(r["http_calls"].values())
        rows.append([
            r["mode"], r["posts"], r["fetched"], sum(r["errors"].values()), r["batches"],
            r["wall_s"], r["posts"] / r["wall_s"], calls, r["sandbox_requests"],
            r["cpu_s"], r["sandbox_cpu_s"], r["rss_start_mb"], r["peak_rss_mb"],
        ])  # fmt: skip
    print_table(
        ["variant", "posts", "fetched", "errors", "batches", "wall s", "posts/s", "http calls",
         "sandbox reqs", "pm cpu s", "sandbox cpu s", "rss start MB", "peak rss MB"], rows,
    )  # fmt: skip
    for r in results:
        print(f"  {r['mode']} http calls: {r['http_calls']}")
        for label, secs in r.get("phases", {}).items():
            print(f"    {label:32} {secs:7.2f} s  {secs / r['posts'] * 1e6:7.0f} us/post")
        if r["errors"]:
            print(f"  {r['mode']} errors: {r['errors']}")
    if checks:
        print()
        print_table(
            ["variant", "tracked", "snapshot rows", "posts w/ snapshot", "posts >1 snapshot",
             "error only", "lost", "ok"],
            [[m, c["tracked"], c["snapshot_rows"], c["posts_with_snapshot"],
              c["posts_multi_snapshot"], c["error_only"], c["lost"],
              "yes" if ok(c) else "NO"] for m, c in checks],
        )  # fmt: skip
        for mode, c in checks:
            if c["error_kinds"]:
                print(f"  {mode} recorded errors: {c['error_kinds']}")
    s = settings
    conc = min(s.INSIGHTS_WORKER_CONCURRENCY, args.accounts * s.INSIGHTS_ACCOUNT_CONCURRENCY)
    print(f"\nconcurrency = min(worker {s.INSIGHTS_WORKER_CONCURRENCY}, accounts {args.accounts}"
          f" x account {s.INSIGHTS_ACCOUNT_CONCURRENCY}) = {conc}")  # fmt: skip
    for latency_ms in (ms for ms in args.latency_ms if ms):
        bound = tracked / s.INSIGHTS_BATCH_SIZE / conc * latency_ms / 1000
        print(f"latency bound = {tracked} / {s.INSIGHTS_BATCH_SIZE} / {conc} x "
              f"{latency_ms} ms = {bound:.1f} s "
              f"(target: wall <= {1.5 * bound:.1f} s)")  # fmt: skip
        for r in (r for r in results if r["latency_ms"] == latency_ms):
            rounds = sum(r["http_calls"].values()) / max(r["batches"], 1)
            line = (f"  {r['mode']}: wall {r['wall_s']:.1f} s = {r['wall_s'] / bound:.2f} x bound;"
                    f" {rounds:.2f} HTTP calls per batch")  # fmt: skip
            # The same variant without latency (same run): what the latency really cost.
            base = next((b for b in results if b["latency_ms"] == 0
                         and b["mode"].split()[0] == r["mode"].split()[0]), None)  # fmt: skip
            if base is not None:
                floor = max(bound, base["wall_s"])
                line += (f"; {r['wall_s'] - base['wall_s']:+.1f} s vs 0 ms; "
                         f"{r['wall_s'] / floor:.2f} x max(bound, wall at 0 ms)")  # fmt: skip
            print(line)


def ok(c: dict[str, Any]) -> bool:
    return bool(c["lost"] == 0 and c["posts_multi_snapshot"] == 0
                and c["posts_with_snapshot"] + c["error_only"] == c["tracked"])  # fmt: skip


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--posts", type=int, default=100_000)
    p.add_argument("--time-paging", choices=("on", "off"), default="on",
                   help="page-post insights carry time-paging links")  # fmt: skip
    p.add_argument(
        "--latency-ms",
        type=lambda raw: [int(v) for v in raw.split(",")],
        default=[0],
        help="added to every platform request; a list (0,50) runs every variant at each",
    )
    p.add_argument("--faults", type=float, default=0.0, help="share of requests failing")
    p.add_argument("--http-timeout", type=float, default=1.0, help="client timeout with --faults")
    p.add_argument("--accounts", type=int, default=20, help="accounts, split over the mix")
    p.add_argument("--mix", default="fb=4,ig=3,li_org=3", help="share of posts per kind")
    p.add_argument("--modes", default="fetch,refresher,poller")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--worker-concurrency", type=int, default=8)
    p.add_argument("--account-concurrency", type=int, default=2)
    p.add_argument("--queue-poll", type=float, default=None, help="INSIGHTS_QUEUE_POLL_SECONDS")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per variant (bound)")
    p.add_argument("--profile", action="store_true", help="cProfile each variant")
    p.add_argument("--set", action="append", default=[], help="a setting, KEY=VALUE")
    p.add_argument("--pyspy", action="store_true", help="py-spy each variant (all threads)")
    p.add_argument(
        "--patch",
        action="append",
        default=[],
        help="experiment: e.g. limiter=1000 (see postmeter_proc.apply_patches)",
    )
    return p.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
