"""Publishing through the API: publish now, retry only failed targets, the attempt log, the
per-target state, edit/cancel while publishing (409), workspace isolation, summary counts."""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

import httpx
from sqlalchemy import update

from app.core.runtime import Runtime
from app.models import ScheduleTarget, TargetState
from tests.conftest import Tenant
from tests.routes.helpers import future, make_account
from tests.scheduler.fakes import FakePlatform
from tests.scheduler.helpers import claim, drive, make_steps


async def _schedule(client: httpx.AsyncClient, tenant: Tenant, **over: Any) -> dict[str, Any]:
    fb = await make_account(client, tenant, "facebook")
    li = await make_account(client, tenant, "linkedin")
    body = {"content": {"text": "Launch day"}, "account_ids": [fb["id"], li["id"]], **over}
    r = await client.post("/api/v1/schedules", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_publish_now_then_409s_while_publishing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    sched = await _schedule(client, tenant)  # a draft
    assert {t["state"] for t in sched["targets"]} == {"pending"}
    base = f"/api/v1/schedules/{sched['id']}"
    r = await client.post(f"{base}/publish", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "publishing"
    assert r.json()["publish_at"] is not None
    for method, path, body in (
        ("POST", f"{base}/publish", None),
        ("POST", f"{base}/cancel", None),
        ("PATCH", base, {"content": {"text": "changed"}}),
    ):
        r = await client.request(method, path, json=body, headers=tenant.headers)
        assert r.status_code == 409, (method, path, r.text)
    r = await client.post(f"{base}/retry", headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "nothing_to_retry"


async def test_retry_republishes_only_failed_targets(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    sched = await _schedule(client, tenant, publish_at=future())
    base = f"/api/v1/schedules/{sched['id']}"
    assert (await client.post(f"{base}/publish", headers=tenant.headers)).status_code == 200
    [first, second] = await claim(runtime)
    # One target posts; the other is refused by the platform.
    await drive(make_steps(runtime, FakePlatform()), first.key)
    await drive(make_steps(runtime, FakePlatform(faults=deque(["refuse"]))), second.key)
    r = await client.get(base, headers=tenant.headers)
    body = r.json()
    assert body["status"] == "partially_posted"
    states = {t["state"] for t in body["targets"]}
    assert states == {"posted", "failed"}
    failed = next(t for t in body["targets"] if t["state"] == "failed")
    assert "deemed abusive" in failed["error"]
    posted = next(t for t in body["targets"] if t["state"] == "posted")
    assert posted["external_id"]

    r = await client.get(f"{base}/attempts", headers=tenant.headers)
    assert r.status_code == 200
    log = {t["provider"]: t for t in r.json()}
    refused = log[failed["provider"]]["attempts"]
    assert [(a["phase"], a["error_code"], a["settled_by"]) for a in refused] == [
        ("failed", "368", "reply")
    ]
    assert log[posted["provider"]]["attempts"][0]["phase"] == "created"

    r = await client.post(f"{base}/retry", headers=tenant.headers)
    assert r.status_code == 200, r.text
    after = {t["provider"]: t["state"] for t in r.json()["targets"]}
    assert after == {posted["provider"]: "posted", failed["provider"]: "pending"}
    assert r.json()["status"] == "publishing"
    [again] = await claim(runtime)  # only the failed target starts again
    assert again.number == 2
    assert again.key.target_id == second.key.target_id


async def test_unknown_targets_are_not_retried(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    sched = await _schedule(client, tenant)
    base = f"/api/v1/schedules/{sched['id']}"
    await client.post(f"{base}/publish", headers=tenant.headers)
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(
            update(ScheduleTarget)
            .where(ScheduleTarget.schedule_id == uuid.UUID(sched["id"]))
            .values(state=TargetState.UNKNOWN)
        )
    r = await client.post(f"{base}/retry", headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "nothing_to_retry"


async def test_another_workspace_gets_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    sched = await _schedule(client, tenant)
    base = f"/api/v1/schedules/{sched['id']}"
    for method, path in (
        ("POST", f"{base}/publish"),
        ("POST", f"{base}/retry"),
        ("GET", f"{base}/attempts"),
    ):
        r = await client.request(method, path, headers=other_tenant.headers)
        assert r.status_code == 404, (method, path)
    r = await client.get(base, headers=tenant.headers)
    assert r.json()["status"] == "draft"  # nothing changed


async def test_summary_counts_publishing(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    sched = await _schedule(client, tenant)
    await client.post(f"/api/v1/schedules/{sched['id']}/publish", headers=tenant.headers)
    r = await client.get("/api/v1/insights/summary", headers=tenant.headers)
    assert r.json()["publishing"] == {"due": 0, "publishing": 2, "failed_24h": 0, "unknown": 0}
    [first, _second] = await claim(runtime)
    await drive(make_steps(runtime, FakePlatform(faults=deque(["refuse"]))), first.key)
    r = await client.get("/api/v1/insights/summary", headers=tenant.headers)
    assert r.json()["publishing"] == {"due": 0, "publishing": 1, "failed_24h": 1, "unknown": 0}
