"""The DBOS adapter's one assumption (the queue worker thread's name) against the installed
DBOS: these fail when a DBOS upgrade changes it, instead of every pass idling a second."""

from __future__ import annotations

import ast
from pathlib import Path

from dbos import DBOS

from workers import dbos_adapter, insights_poller

ROOT = Path(__file__).resolve().parents[2]


async def test_start_poller_returns_with_the_queue_worker_running(
    poller: insights_poller.PollerContext,
) -> None:
    assert dbos_adapter.queue_worker_running(insights_poller.QUEUE_NAME)
    assert not dbos_adapter.queue_worker_running("no-such-queue")


async def test_a_queue_registered_after_launch_gets_its_worker_seen(
    poller: insights_poller.PollerContext,
) -> None:
    name = "adapter-probe"
    assert not dbos_adapter.queue_worker_running(name)
    await DBOS.register_queue_async(name, on_conflict="always_update")
    # DBOS's discovery loop runs once a second; the wait sees the thread when it starts.
    assert await dbos_adapter.wait_for_queue_worker(name, timeout=5.0)
    await DBOS.delete_queue_async(name)


async def test_the_wait_gives_up_and_says_so() -> None:
    assert not await dbos_adapter.wait_for_queue_worker("never-registered", timeout=0.05)


def test_no_module_imports_dbos_private_modules() -> None:
    offenders = []
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("workers/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("dbos._")]
    assert offenders == []
