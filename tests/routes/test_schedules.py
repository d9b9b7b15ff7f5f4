from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Tenant
from tests.routes.helpers import future, make_account


async def test_schedule_lifecycle(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = await make_account(client, tenant, "facebook")
    li = await make_account(client, tenant, "linkedin")
    body = {
        "content": {"text": "Hello world", "link": "https://example.com/post"},
        "publish_at": future(),
        "account_ids": [fb["id"], li["id"]],
    }
    r = await client.post("/api/v1/schedules", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    sched = r.json()
    assert sched["status"] == "scheduled"
    assert {t["provider"] for t in sched["targets"]} == {"facebook", "linkedin"}

    r = await client.patch(
        f"/api/v1/schedules/{sched['id']}",
        json={"content": {"text": "Edited"}, "account_ids": [li["id"]]},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["content"]["text"] == "Edited"
    assert [t["provider"] for t in r.json()["targets"]] == ["linkedin"]

    r = await client.post(f"/api/v1/schedules/{sched['id']}/cancel", headers=tenant.headers)
    assert r.json()["status"] == "cancelled"
    r = await client.patch(
        f"/api/v1/schedules/{sched['id']}", json={"content": {"text": "x"}}, headers=tenant.headers
    )
    assert r.status_code == 409


async def test_draft_without_publish_at(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = await make_account(client, tenant)
    r = await client.post(
        "/api/v1/schedules",
        json={"content": {"text": "draft"}, "account_ids": [fb["id"]]},
        headers=tenant.headers,
    )
    assert r.json()["status"] == "draft"


async def test_bad_schedules_rejected_and_nothing_written(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    fb = await make_account(client, tenant, "facebook")
    fb2 = await make_account(client, tenant, "facebook", external_id="999")
    ig = await make_account(client, tenant, "instagram")
    li = await make_account(client, tenant, "linkedin")
    foreign = await make_account(client, other_tenant, "facebook")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    far = "2100-01-01T00:00:00Z"  # past the years the schema states (2004 to 2099)
    cases = [
        (
            {
                "content": {"text": "x"},
                "publish_at": future(),
                "account_ids": [fb["id"], fb2["id"]],
            },
            "duplicate_provider",
        ),
        (
            {"content": {"text": "x"}, "publish_at": past, "account_ids": [fb["id"]]},
            "publish_at_in_past",
        ),
        ({"content": {"text": "x"}, "publish_at": far, "account_ids": [fb["id"]]}, "invalid_input"),
        (
            {"content": {"text": "x" * 3001}, "publish_at": future(), "account_ids": [li["id"]]},
            "text_too_long",
        ),
        (
            {"content": {"text": "x" * 70000}, "publish_at": future(), "account_ids": [fb["id"]]},
            "invalid_input",
        ),
        (
            {"content": {"text": "no media"}, "publish_at": future(), "account_ids": [ig["id"]]},
            "media_required",
        ),
        ({"content": {"text": "x"}, "publish_at": future(), "account_ids": []}, "invalid_input"),
        (
            {
                "content": {"text": "x", "link": "not a url"},
                "publish_at": future(),
                "account_ids": [fb["id"]],
            },
            "invalid_input",
        ),
        ({"content": {}, "publish_at": future(), "account_ids": [fb["id"]]}, "empty_content"),
    ]
    for body, code in cases:
        r = await client.post("/api/v1/schedules", json=body, headers=tenant.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code, (code, r.text)
    # Another workspace's account is not found, as it would be in a path.
    body = {"content": {"text": "x"}, "publish_at": future(), "account_ids": [foreign["id"]]}
    r = await client.post("/api/v1/schedules", json=body, headers=tenant.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_account"), r.text
    listing = await client.get("/api/v1/schedules", headers=tenant.headers)
    assert listing.json()["items"] == []
    r = await client.get(
        "/api/v1/schedules/01a20b69-38bc-7e0b-ad4d-80f306a8d4b0", headers=tenant.headers
    )
    assert r.status_code == 404


async def test_import_tracks_posts(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = await make_account(client, tenant, "facebook")
    li = await make_account(client, tenant, "linkedin")
    body = {
        "content": {"text": "Published elsewhere"},
        "published_at": "2026-11-01T10:00:00Z",
        "refs": [
            {
                "account_id": fb["id"],
                "external_id": "1234567890_111",
                "url": "https://facebook.com/1",
            },
            {"account_id": li["id"], "external_id": "urn:li:share:7000000000000000001"},
        ],
    }
    r = await client.post("/api/v1/schedules/import", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    sched = r.json()
    assert sched["status"] == "posted"
    ext = (
        await client.get(f"/api/v1/schedules/{sched['id']}/external", headers=tenant.headers)
    ).json()
    assert {(e["provider"], e["external_id"], e["status"]) for e in ext} == {
        ("facebook", "1234567890_111", "live"),
        ("linkedin", "urn:li:share:7000000000000000001", "live"),
    }
    # The same post cannot be tracked twice; the failed import leaves nothing behind.
    r = await client.post("/api/v1/schedules/import", json=body, headers=tenant.headers)
    assert r.status_code == 409
    assert len((await client.get("/api/v1/schedules", headers=tenant.headers)).json()["items"]) == 1
    # Wrong id shape for the provider.
    bad = {"refs": [{"account_id": li["id"], "external_id": "1234"}]}
    r = await client.post("/api/v1/schedules/import", json=bad, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_external_id"


async def test_list_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = await make_account(client, tenant, "facebook")
    li = await make_account(client, tenant, "linkedin")
    a = (
        await client.post(
            "/api/v1/schedules",
            json={"content": {"text": "a"}, "publish_at": future(1), "account_ids": [fb["id"]]},
            headers=tenant.headers,
        )
    ).json()
    b = (
        await client.post(
            "/api/v1/schedules",
            json={"content": {"text": "b"}, "publish_at": future(48), "account_ids": [li["id"]]},
            headers=tenant.headers,
        )
    ).json()
    q = await client.get(
        "/api/v1/schedules", params={"provider": "linkedin"}, headers=tenant.headers
    )
    assert [s["id"] for s in q.json()["items"]] == [b["id"]]
    q = await client.get("/api/v1/schedules", params={"to": future(24)}, headers=tenant.headers)
    assert [s["id"] for s in q.json()["items"]] == [a["id"]]
    q = await client.get("/api/v1/schedules", params={"status": "posted"}, headers=tenant.headers)
    assert q.json()["items"] == []
    # `from` after `to`: an empty window (the schema cannot state an order between the two).
    q = await client.get(
        "/api/v1/schedules", params={"from": future(24), "to": future(1)}, headers=tenant.headers
    )
    assert (q.status_code, q.json()["items"]) == (200, [])
    q = await client.get("/api/v1/schedules", params={"status": "bogus"}, headers=tenant.headers)
    assert q.status_code == 422


async def test_concurrent_imports_of_one_post_track_it_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Both check "already tracked" before either inserts: without the account's row lock,
    PostgreSQL let both through and the post was tracked (and polled) twice."""
    fb = await make_account(client, tenant, "facebook")
    body = {"refs": [{"account_id": fb["id"], "external_id": "1234567890_222"}]}
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/schedules/import", json=body, headers=tenant.headers)
            for _ in range(4)
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409, 409, 409], [r.text for r in answers]
    listing = await client.get("/api/v1/schedules", headers=tenant.headers)
    assert len(listing.json()["items"]) == 1
