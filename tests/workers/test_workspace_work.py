"""A deleted workspace's DBOS work is cancelled through DBOS's client (issue 10, finding 8):
its publish, settle and fetch workflows, found by their deterministic ids; another
workspace's are left running."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dbos import DBOS, SetWorkflowID

from app.core.runtime import Runtime, build_runtime
from app.scheduler.engine import call_workflow_id, publish_workflow_id, settle_workflow_id
from app.services.poll_planner import batch_workflow_id
from tests.conftest import make_settings
from workers import background
from workers.workspace_work import cancel_workspace_work, workflow_prefixes


@DBOS.workflow()
async def workspace_work_test_held_workflow() -> str:
    await DBOS.recv_async("never", timeout_seconds=120)
    return "done"


@pytest.fixture
async def dbos_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = build_runtime(
        make_settings(tmp_path, database_url, WORKER_ID=f"ww-{uuid.uuid4().hex[:8]}")
    )
    await background.start_background(
        runtime, role="worker", schedule=False, poller=False, publishing=False
    )
    try:
        yield runtime
    finally:
        await background.stop_background()
        await runtime.aclose()


async def _start(wf_id: str) -> None:
    with SetWorkflowID(wf_id):
        await DBOS.start_workflow_async(workspace_work_test_held_workflow)


async def _status(wf_id: str) -> str:
    status = await DBOS.get_workflow_status_async(wf_id)
    assert status is not None
    return str(status.status)


async def test_the_workspace_workflows_are_cancelled_and_no_other(dbos_runtime: Runtime) -> None:
    target, account, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    mine = [
        publish_workflow_id(target, 1),
        publish_workflow_id(target, 2),
        settle_workflow_id(target, 1),
        batch_workflow_id(account, "20261202T010000000000", [str(uuid.uuid4())]),
    ]
    theirs = [
        publish_workflow_id(other, 1),
        batch_workflow_id(other, "20261202T010000000000", [str(uuid.uuid4())]),
    ]
    for wf_id in [*mine, *theirs]:
        await _start(wf_id)
    for _ in range(100):
        if all([await _status(w) == "PENDING" for w in [*mine, *theirs]]):
            break
        await asyncio.sleep(0.05)
    cancelled = await cancel_workspace_work(dbos_runtime.settings, [target], [account])
    assert sorted(cancelled) == sorted(mine)
    assert {w: await _status(w) for w in mine} == dict.fromkeys(mine, "CANCELLED")
    assert {w: await _status(w) for w in theirs} == dict.fromkeys(theirs, "PENDING")
    # Finished ones are not listed again.
    assert await cancel_workspace_work(dbos_runtime.settings, [target], [account]) == []


async def test_no_dbos_state_means_nothing_to_cancel_and_nothing_created(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "fresh", f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert await cancel_workspace_work(settings, [str(uuid.uuid4())], [str(uuid.uuid4())]) == []
    assert not (tmp_path / "fresh" / "dbos.sqlite").exists()


def test_prefixes_match_the_ids_the_engine_and_the_poller_build() -> None:
    """The prefixes are written out in workers.workspace_work: if a builder changes its format,
    this fails instead of a delete silently leaving workflows behind."""
    target, account = str(uuid.uuid4()), str(uuid.uuid4())
    prefixes = workflow_prefixes([target], [account])
    for wf_id in (
        publish_workflow_id(target, 7),
        call_workflow_id(target, 7),
        settle_workflow_id(target, 7),
        batch_workflow_id(account, "20261202T010000", ["a", "b"]),
    ):
        assert any(wf_id.startswith(p) for p in prefixes), wf_id
    assert not any(publish_workflow_id(str(uuid.uuid4()), 1).startswith(p) for p in prefixes)
