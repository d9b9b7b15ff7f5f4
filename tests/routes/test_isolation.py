"""Every route, called with a second workspace's key, reveals nothing of the first."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant
from tests.routes.helpers import future, make_account


async def test_other_workspace_sees_nothing(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    fb = await make_account(client, tenant, "facebook")
    sched = (
        await client.post(
            "/api/v1/schedules",
            json={"content": {"text": "mine"}, "publish_at": future(), "account_ids": [fb["id"]]},
            headers=tenant.headers,
        )
    ).json()
    imported = (
        await client.post(
            "/api/v1/schedules/import",
            json={"refs": [{"account_id": fb["id"], "external_id": "1234567890_5"}]},
            headers=tenant.headers,
        )
    ).json()
    h = other_tenant.headers
    for sid in (sched["id"], imported["id"]):
        calls: list[tuple[str, str, Any]] = [
            ("GET", f"/api/v1/schedules/{sid}", None),
            ("PATCH", f"/api/v1/schedules/{sid}", {"content": {"text": "hijack"}}),
            ("POST", f"/api/v1/schedules/{sid}/cancel", None),
            ("GET", f"/api/v1/schedules/{sid}/external", None),
        ]
        for method, path, body in calls:
            r = await client.request(method, path, json=body, headers=h)
            assert r.status_code == 404, (method, path, r.text)
            assert "mine" not in r.text
    for method, path, body in [
        ("GET", f"/api/v1/accounts/{fb['id']}", None),
        ("PATCH", f"/api/v1/accounts/{fb['id']}", {"name": "stolen"}),
        ("DELETE", f"/api/v1/accounts/{fb['id']}", None),
    ]:
        r = await client.request(method, path, json=body, headers=h)
        assert r.status_code == 404, (method, path)
    assert (await client.get("/api/v1/accounts", headers=h)).json()["items"] == []
    assert (await client.get("/api/v1/schedules", headers=h)).json()["items"] == []
    # Using the first workspace's account in the second workspace's schedule or import fails.
    r = await client.post(
        "/api/v1/schedules",
        json={"content": {"text": "x"}, "publish_at": future(), "account_ids": [fb["id"]]},
        headers=h,
    )
    assert r.status_code == 404
    r = await client.post(
        "/api/v1/schedules/import",
        json={"refs": [{"account_id": fb["id"], "external_id": "1234567890_6"}]},
        headers=h,
    )
    assert r.status_code == 404
    # The owner still sees everything intact.
    mine = await client.get(f"/api/v1/schedules/{sched['id']}", headers=tenant.headers)
    assert mine.json()["content"]["text"] == "mine"
    assert (await client.get(f"/api/v1/accounts/{fb['id']}", headers=tenant.headers)).json()[
        "name"
    ] != "stolen"
