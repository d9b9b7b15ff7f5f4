from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Tenant

TOKEN = "EAAB-super-secret-page-token-1234567890"


def account_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "provider": "facebook",
        "external_id": "1234567890",
        "name": "Acme Page",
        "access_token": TOKEN,
    }
    body.update(over)
    return body


async def test_create_get_list_update_delete(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post("/api/v1/accounts", json=account_body(), headers=tenant.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "active"
    assert "access_token" not in r.text
    assert TOKEN not in r.text
    acc_id = created["id"]

    r = await client.get(f"/api/v1/accounts/{acc_id}", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["name"] == "Acme Page"

    r = await client.get("/api/v1/accounts", headers=tenant.headers)
    assert [a["id"] for a in r.json()["items"]] == [acc_id]

    r = await client.patch(
        f"/api/v1/accounts/{acc_id}", json={"name": "Renamed"}, headers=tenant.headers
    )
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed"

    r = await client.delete(f"/api/v1/accounts/{acc_id}", headers=tenant.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/v1/accounts/{acc_id}", headers=tenant.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_duplicate_account_conflicts_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (
        await client.post("/api/v1/accounts", json=account_body(), headers=tenant.headers)
    ).status_code == 201
    r = await client.post("/api/v1/accounts", json=account_body(), headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "account_exists"
    listing = await client.get("/api/v1/accounts", headers=tenant.headers)
    assert len(listing.json()["items"]) == 1


async def test_expiry_sets_health(client: httpx.AsyncClient, tenant: Tenant) -> None:
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = await client.post(
        "/api/v1/accounts", json=account_body(token_expires_at=soon), headers=tenant.headers
    )
    assert r.json()["status"] == "expiring"
    acc = r.json()["id"]
    later = (datetime.now(UTC) + timedelta(days=59)).isoformat()
    r = await client.patch(
        f"/api/v1/accounts/{acc}",
        json={"access_token": "new-token-value", "token_expires_at": later},
        headers=tenant.headers,
    )
    assert r.json()["status"] == "active"


async def test_bad_input_is_4xx_with_error_shape(client: httpx.AsyncClient, tenant: Tenant) -> None:
    cases = [
        account_body(provider="myspace"),
        account_body(external_id="not-a-page-id"),
        account_body(provider="linkedin", external_id="123"),
        account_body(access_token=""),
        account_body(token_expires_at="2026-01-01T00:00:00"),  # naive
        account_body(token_expires_at="1999-01-01T00:00:00Z"),  # out of range
        account_body(unexpected="field"),
    ]
    for body in cases:
        r = await client.post("/api/v1/accounts", json=body, headers=tenant.headers)
        assert r.status_code == 422, (body, r.text)
        err = r.json()["error"]
        assert err["code"]
        assert err["message"]
        assert TOKEN not in r.text
    r = await client.post(
        "/api/v1/accounts",
        content=b'{"provider": "facebook",',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    r = await client.get("/api/v1/accounts/not-a-uuid", headers=tenant.headers)
    assert r.status_code == 422
    r = await client.get("/api/v1/accounts?cursor=%%%", headers=tenant.headers)
    assert r.status_code == 422
    assert (await client.get("/api/v1/accounts", headers=tenant.headers)).json()["items"] == []


async def test_status_cannot_be_set_to_reconnect_by_hand(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    acc = (
        await client.post("/api/v1/accounts", json=account_body(), headers=tenant.headers)
    ).json()
    r = await client.patch(
        f"/api/v1/accounts/{acc['id']}", json={"status": "expiring"}, headers=tenant.headers
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/api/v1/accounts/{acc['id']}", json={"status": "disabled"}, headers=tenant.headers
    )
    assert r.json()["status"] == "disabled"


async def test_pagination_and_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ids = []
    for i in range(5):
        r = await client.post(
            "/api/v1/accounts",
            json=account_body(external_id=str(1000 + i), name=f"p{i}"),
            headers=tenant.headers,
        )
        ids.append(r.json()["id"])
    await client.post(
        "/api/v1/accounts",
        json=account_body(provider="linkedin", external_id="urn:li:organization:5"),
        headers=tenant.headers,
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "provider": "facebook"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/accounts", params=params, headers=tenant.headers)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


async def test_requires_api_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await client.get("/api/v1/accounts")).status_code == 401
    bad = {"Authorization": "Bearer pm_0000000000000000_nope"}
    r = await client.get("/api/v1/accounts", headers=bad)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
