"""The measured Postmeter process: one refresh run, reported as a JSON line on stdout.

Started by the benchmarks (``common.run_child``) with a JSON config as its only argument, so
its peak RSS covers only Postmeter's own work (the setup ran in the parent). Modes:

- ``poller``: the real DBOS poller, ``start_poller(schedule=False)`` + ``run_once()``.
- ``refresher``: the same batches (claimed by the same planner) refreshed by calling
  ``InsightsRefresher.refresh`` directly, with the same worker/account concurrency, no DBOS.
- ``fetch``: the same batches fetched by the platform clients only (no mapping, no database):
  the HTTP + sandbox ceiling.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.logging import configure_logging  # noqa: E402
from app.core.runtime import build_runtime, tune_gc_for_service  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.insights_refresh import InsightsRefresher  # noqa: E402
from app.services.platform_clients import build_platform_clients  # noqa: E402
from app.services.poll_planner import PlannedBatch, parse_ids  # noqa: E402
from bench.common import claim_due, make_settings  # noqa: E402


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run_batches(batches: list[PlannedBatch], settings: Any, work: Any) -> None:
    """Like the DBOS queue: `worker_concurrency` overall, `account_concurrency` per account."""
    overall = asyncio.Semaphore(settings.INSIGHTS_WORKER_CONCURRENCY)
    per_account: dict[str, asyncio.Semaphore] = {}

    async def one(batch: PlannedBatch) -> None:
        account = per_account.setdefault(
            batch.account_id, asyncio.Semaphore(settings.INSIGHTS_ACCOUNT_CONCURRENCY)
        )
        async with account, overall:
            await work(batch)

    await asyncio.gather(*(one(b) for b in batches))


def apply_patches(names: list[str]) -> None:
    """Experiments only (``--patch``): what a proposed fix would gain, measured in place."""
    import functools

    from app.integrations.limits import KeyedLimiter
    from app.services import platform_clients

    for name in names:
        if name.startswith("limiter="):  # KeyedLimiter's per-key rate (default 10/s)
            rate = float(name.split("=", 1)[1])
            vars(platform_clients)["KeyedLimiter"] = functools.partial(KeyedLimiter, max_rate=rate)
        elif name == "sqlite_begin=deferred":  # plain BEGIN instead of BEGIN IMMEDIATE
            from app.core import db

            vars(db)["_sqlite_begin_hook"] = lambda _settings: (
                lambda conn: conn.exec_driver_sql("BEGIN")
            )
        elif name == "render_nulls":  # ORM bulk upserts as one executemany (see BENCHMARKS.md)
            from app.services import insights_store, refresh_ledger

            original = insights_store.insert_for

            def insert_for(session: Any, _orig: Any = original) -> Any:
                make = _orig(session)
                return lambda model: make(model).execution_options(render_nulls=True)

            # Every module that imported the name gets the patched one.
            for module in (insights_store, refresh_ledger, platform_clients):
                vars(module)["insert_for"] = insert_for
        elif name == "phases":  # wall time per refresh phase (meaningful at concurrency 1)
            _time_phases()
        elif name.startswith("meta_batches="):  # Graph batches in flight per process
            from app.integrations.meta_insights import MetaClientConfig

            in_flight = int(name.split("=", 1)[1])

            def config(
                *args: Any, _cls: Any = MetaClientConfig, _n: int = in_flight, **kwargs: Any
            ) -> Any:
                return _cls(*args, **{**kwargs, "max_concurrent_batches": _n})

            vars(platform_clients)["MetaClientConfig"] = config
        elif name == "gctime":  # time spent in the cyclic garbage collector, per generation
            _time_gc()
        elif name == "gc=default":  # CPython's collector settings, not tune_gc_for_service()
            GC_DEFAULT.append(True)
        elif name == "timeline":  # when each refresh call ran: start delay, mean concurrency
            _time_refresh_calls()
        else:
            raise SystemExit(f"unknown patch {name}")


PHASES: dict[str, float] = {}
GC_DEFAULT: list[bool] = []


def _tune_gc() -> None:
    """As the product's entry points do once started (unless ``--patch gc=default``)."""
    if not GC_DEFAULT:
        tune_gc_for_service()


def _time_gc() -> None:
    import gc

    started: list[float] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            label = f"gc gen{info['generation']}"
            PHASES[label] = PHASES.get(label, 0.0) + time.perf_counter() - started.pop()

    gc.callbacks.append(callback)


CALLS: list[tuple[float, float]] = []


def _time_refresh_calls() -> None:
    from app.services import insights_refresh

    cls = insights_refresh.InsightsRefresher
    original = cls.refresh

    async def refresh(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            CALLS.append((t0, time.perf_counter()))

    cls.refresh = refresh  # type: ignore[method-assign]


async def _dbos_timeline(started: float) -> dict[str, float]:
    """The fetch workflows as DBOS recorded them: queue wait, run time, mean concurrency."""
    from dbos import DBOS

    from workers.insights_poller import fetch_batch_workflow

    flows = await DBOS.list_workflows_async(
        name=fetch_batch_workflow.__qualname__, load_input=False, load_output=False
    )
    ms: list[tuple[int, int, int]] = []
    for w in flows:
        ended = w.completed_at or w.updated_at
        if w.created_at and w.dequeued_at and ended:
            ms.append((w.created_at, w.dequeued_at, ended))
    if not ms:
        return {}
    first = min(m[1] for m in ms)
    last = max(m[2] for m in ms)
    return {
        "dbos: first enqueue s": min(m[0] for m in ms) / 1000 - started,
        "dbos: first dequeue s": first / 1000 - started,
        "dbos: mean queue wait s": sum(m[1] - m[0] for m in ms) / len(ms) / 1000,
        "dbos: mean run s": sum(m[2] - m[1] for m in ms) / len(ms) / 1000,
        "dbos: mean concurrency": sum(m[2] - m[1] for m in ms) / (last - first),
        "dbos: last completion s": last / 1000 - started,
    }


def timeline(t0: float, wall: float) -> dict[str, float]:
    """Refresh calls against the run's wall time: idle before/after, mean concurrency."""
    if not CALLS:
        return {}
    first, last = min(c[0] for c in CALLS), max(c[1] for c in CALLS)
    busy = sum(end - start for start, end in CALLS)
    return {
        "before first call s": first - t0,
        "after last call s": t0 + wall - last,
        "mean concurrency": busy / (last - first),
        "mean call s": busy / len(CALLS),
    }


def _time_phases() -> None:
    from app.services import insights_refresh, insights_store, refresh_ledger

    def timed(owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                PHASES[label] = PHASES.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, attr, wrapper)

    cls = insights_refresh.InsightsRefresher
    timed(cls, "_load", "load (read rows)")
    timed(cls, "_fetch", "fetch (HTTP + parse)")
    timed(refresh_ledger.RefreshLedger, "persist", "write (whole txn)")
    timed(refresh_ledger, "upsert_snapshots", "  upsert post_metrics")
    timed(refresh_ledger, "_bulk_update", "  update schedule_external")
    timed(refresh_ledger, "recompute_schedule_metrics", "  recompute schedule_metrics")
    timed(insights_store, "latest_snapshots", "    latest_snapshots (read)")


async def run(config: dict[str, Any]) -> dict[str, Any]:
    apply_patches(config.get("patches", []))
    settings = make_settings(config["settings"])
    configure_logging("WARNING", "json", stream=sys.stderr)
    runtime = build_runtime(settings)
    mode = config["mode"]
    out: dict[str, Any] = {"mode": mode, "rss_start_mb": rss_mb()}
    fetched = posts = batches_n = 0
    errors: dict[str, int] = {}
    profiler = cProfile.Profile() if config.get("profile") else None
    if mode == "poller":
        from workers import insights_poller

        ctx = await insights_poller.start_poller(runtime, schedule=False)
        clients = ctx.refresher.clients
        _tune_gc()
        cpu0, t0 = cpu_now(), time.perf_counter()
        if profiler:
            profiler.enable()
        summary = await insights_poller.run_once()
        wall = time.perf_counter() - t0
        if "timeline" in config.get("patches", []):
            PHASES.update(await _dbos_timeline(time.time() - wall))
        posts, fetched, batches_n, errors = (
            summary.posts, summary.fetched, summary.batches, summary.errors,
        )  # fmt: skip
        cpu = cpu_now() - cpu0
        if profiler:
            profiler.disable()
        await insights_poller.stop_poller()
    else:
        clients = build_platform_clients(settings)
        refresher = InsightsRefresher(runtime, clients)
        async with runtime.sessionmaker() as session:
            await clients.load_rejections(session)
        _tune_gc()
        cpu0, t0 = cpu_now(), time.perf_counter()
        if mode == "refresher":
            if profiler:
                profiler.enable()
            batches = await claim_due(runtime)

            async def work(batch: PlannedBatch) -> None:
                nonlocal fetched
                report = await refresher.refresh(parse_ids(batch.external_row_ids))
                fetched += report.count("fetched")
                for kind, n in report.error_counts().items():
                    errors[kind] = errors.get(kind, 0) + n

        else:  # fetch only: read what the fetch needs first, then time only HTTP + parsing
            batches = await claim_due(runtime)
            loaded = {}
            now = utcnow()
            for b in batches:
                read = await refresher._load(parse_ids(b.external_row_ids), now, None)
                loaded[b.workflow_id] = read.groups
            cpu0, t0 = cpu_now(), time.perf_counter()
            if profiler:
                profiler.enable()

            async def work(batch: PlannedBatch) -> None:
                nonlocal fetched
                for account, rows in loaded[batch.workflow_id]:
                    if account is None:  # rows whose account is gone: nothing to fetch
                        continue
                    token = runtime.cipher.decrypt(account.token_enc)
                    results = await refresher._fetch(account, token, rows)
                    fetched += sum(1 for r in results.values() if r.ok)

        await _run_batches(batches, settings, work)
        wall = time.perf_counter() - t0
        cpu = cpu_now() - cpu0
        if profiler:
            profiler.disable()
        posts, batches_n = sum(len(b.external_row_ids) for b in batches), len(batches)
        await clients.aclose()
    await runtime.aclose()
    if profiler:
        profiler.dump_stats(config["profile"])
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(40)
    out.update(
        wall_s=wall, cpu_s=cpu, posts=posts, fetched=fetched, batches=batches_n, errors=errors,
        http_calls=dict(clients.http_calls), peak_rss_mb=rss_mb("VmHWM"), pid=os.getpid(),
        phases={**PHASES, **timeline(t0, wall)},
    )  # fmt: skip
    return out


if __name__ == "__main__":
    result = asyncio.run(run(json.loads(sys.argv[1])))
    print(json.dumps(result))  # noqa: T201
