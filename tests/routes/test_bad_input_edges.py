"""Edge inputs found in review: each gets a 4xx, never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import Tenant
from tests.routes.helpers import future, make_account


async def test_edge_inputs_are_4xx(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = await make_account(client, tenant, "facebook")
    acc = {"provider": "facebook", "name": "ok", "access_token": "tok-123456789"}
    sched = {"publish_at": future(), "account_ids": [fb["id"]]}
    overflow_cursor = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|" + b"9" * 30).decode()
    cases: list[tuple[str, str, object]] = [
        ("POST", "/api/v1/accounts", {**acc, "external_id": "777", "name": "a\u0000b"}),
        (
            "POST",
            "/api/v1/accounts",
            {**acc, "external_id": "778", "token_expires_at": "0001-01-01T00:00:00+14:00"},
        ),
        (
            "POST",
            "/api/v1/accounts",
            {**acc, "external_id": "779", "token_expires_at": "9999-12-31T23:59:59-14:00"},
        ),
        ("POST", "/api/v1/schedules", {**sched, "content": {"text": "hi\u0000"}}),
        (
            "POST",
            "/api/v1/schedules/import",
            {
                "refs": [{"account_id": fb["id"], "external_id": "1234567890_9"}],
                "content": {"text": "x\u0000"},
            },
        ),
        ("GET", "/api/v1/schedules?from=0001-01-01T00:00:00%2B14:00", None),
    ]
    for method, path, body in cases:
        r = await client.request(method, path, json=body, headers=tenant.headers)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        assert r.json()["error"]["code"]
    listing = await client.get("/api/v1/schedules", headers=tenant.headers)
    assert listing.json()["items"] == []
    # On a schedule that exists, so the input itself is what gets refused (not a 404).
    imported = await client.post(
        "/api/v1/schedules/import",
        json={"refs": [{"account_id": fb["id"], "external_id": "1234567890_1"}]},
        headers=tenant.headers,
    )
    assert imported.status_code == 201, imported.text
    sid = imported.json()["id"]
    r = await client.get(
        f"/api/v1/insights/metrics/{sid}/history?cursor={overflow_cursor}", headers=tenant.headers
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.status_code != 404
    assert r.json()["error"]["code"]
    # A JSON boolean only: 0, 1 and "true" are what the schema refuses, so the server refuses
    # them too (schemathesis ST201: `{"force_refresh": 0}` was taken as false).
    not_booleans = ['{"force_refresh": 0}', '{"force_refresh": 1}', '{"force_refresh": "true"}']
    malformed = ["[]", '"x"', '{"force_refresh": "maybe"}', '{"force_refresh": true, "x": 1}']
    for body in malformed + not_booleans:
        r = await client.post(
            f"/api/v1/insights/fetch/{sid}",
            content=body,
            headers={**tenant.headers, "content-type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (body, r.text)
        assert r.status_code != 404, (body, r.text)
