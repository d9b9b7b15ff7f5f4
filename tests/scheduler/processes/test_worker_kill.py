"""`kill -9` of a `postmeter worker` mid-publish, then a restart under the same WORKER_ID:
every target ends in a final state with exactly one platform post (counted on the sandbox),
none lost, none doubled.

The kill lands deterministically: the sandbox holds the Facebook and LinkedIn creates in
flight (the post is created, the reply comes 12 s later: the `lost_reply` timeout fault), so
their attempts are `calling` with the post already made, while the Instagram containers wait
in `slow_processing` (the attempt is preparing, in a DBOS sleep between status reads).
"""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.core.runtime import Runtime
from app.sandbox.client import SandboxControl
from tests.conftest import make_tenant
from tests.scheduler.processes.helpers import (
    attempt_phases,
    connect_demo_accounts,
    create_schedule,
    schedule_if_settled,
    start_worker,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow
SCHEDULES = 2


async def test_kill_9_mid_publish_then_restart_posts_each_target_once(
    runtime: Runtime,
    settings: Settings,
    api: httpx.AsyncClient,
    sandbox_ctl: SandboxControl,
    tmp_path: Path,
) -> None:
    ctl = sandbox_ctl
    tenant = await make_tenant(runtime)
    account_ids = await connect_demo_accounts(api, tenant, (await ctl.world())["demo"])
    for platform in ("facebook", "linkedin"):
        # Held well past the kill, short enough to be over when the sandbox is stopped.
        await ctl.set_publish_fault(
            "lost_reply", platform=platform, mode="timeout", delay_ms=12_000
        )
    await ctl.set_publish_fault("slow_processing", platform="instagram", delay_ms=8_000)
    tag = f"kill-{uuid.uuid4().hex[:8]}"
    publish_at = datetime.now(UTC) + timedelta(seconds=2)
    schedules = [
        await create_schedule(
            api,
            tenant,
            text=f"Post {n} ({tag}-{n})",
            media_url=ctl.media_url(f"photo{n}.jpg"),
            publish_at=publish_at,
            account_ids=list(account_ids.values()),
        )
        for n in range(SCHEDULES)
    ]
    env = worker_env(settings, WORKER_ID=f"kill-{uuid.uuid4().hex[:8]}")
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    try:
        # One create in flight per account (PUBLISH_ACCOUNT_CONCURRENCY=1): the Facebook and
        # LinkedIn posts are made on the platform, their replies held; Instagram is waiting.
        async def in_flight() -> bool:
            made = (await ctl.published(marker=tag))["total"]
            return made == 2 and (await attempt_phases(runtime)).count("calling") == 2

        await wait_for(in_flight, 60, "two creates in flight", log)
        phases = await attempt_phases(runtime)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert "created" not in phases, phases

    await ctl.clear_publish_faults()
    second = start_worker(env, log)
    try:
        bodies = [
            await wait_for(
                partial(schedule_if_settled, api, tenant, sid),
                90,
                f"schedule {sid} settled",
                log,
            )
            for sid in schedules
        ]
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    for body in bodies:
        assert body["status"] == "posted", body
        assert all(t["state"] == "posted" for t in body["targets"]), body
    published = await ctl.published(marker=rf"({tag}-\d+)")
    counts = {(t["platform"], t["key"]): t["count"] for t in published["targets"]}
    expected = {
        (platform, f"{tag}-{n}"): 1
        for n in range(SCHEDULES)
        for platform in ("facebook", "instagram", "linkedin")
    }
    assert counts == expected, published
    assert published["duplicates"] == 0
    # The posts found after the kill are the ones the API shows (none lost, none invented).
    shown = {t["external_id"] for body in bodies for t in body["targets"]}
    assert shown == {p["post_id"] for p in published["posts"]}
    # The two calls cut by the kill were settled by finding their posts, not by calling again.
    settled_by = []
    for sid in schedules:
        got = await api.get(f"/api/v1/schedules/{sid}/attempts", headers=tenant.headers)
        for target in got.json():
            settled_by += [(target["provider"], a["settled_by"]) for a in target["attempts"]]
    found = [p for p, how in settled_by if how == "reconcile_found"]
    assert sorted(found) == ["facebook", "linkedin"], settled_by
