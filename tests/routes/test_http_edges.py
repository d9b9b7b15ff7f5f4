"""The smaller edges of issue 10 (finding 9): NUL bytes in secrets, JSON nested too deeply,
`Allow` naming every method, `/schedules/import` under other methods, private addresses in
links and media, security headers on every response, `/readyz` silent in the log."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.logging import configure_logging
from app.core.runtime import build_runtime
from app.main import create_app
from tests.app_client import app_client
from tests.conftest import Tenant, make_settings, make_tenant
from tests.routes.helpers import PROVIDER_IDS, make_account

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def test_nul_bytes_are_refused_inside_tokens(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "provider": "facebook",
        "external_id": PROVIDER_IDS["facebook"],
        "name": "page",
        "access_token": "EAAtoken\x00tail-123456",
    }
    r = await client.post("/api/v1/accounts", json=body, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "access_token"]
    assert "tail-123456" not in r.text
    r = await client.post(
        "/api/v1/accounts",
        json={**body, "access_token": "EAAgood-123456", "refresh_token": "r\x00r"},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    account = await make_account(client, tenant)
    r = await client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"access_token": "new\x00token"},
        headers=tenant.headers,
    )
    assert r.status_code == 422


async def test_json_nested_too_deeply_is_malformed_json(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for depth in (1000, 5000):
        r = await client.post(
            "/api/v1/schedules",
            content=b"[" * depth + b"]" * depth,
            headers={**tenant.headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 400, depth
        assert r.json()["error"]["code"] == "malformed_json"
    r = await client.post(
        "/api/v1/schedules",
        content=b'{"content": "\xff\xfe"}',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"


def allow(r: httpx.Response) -> set[str]:
    return {m.strip() for m in r.headers["allow"].split(",")}


async def test_allow_names_every_method_of_the_path(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    account = await make_account(client, tenant)
    r = await client.options(f"/api/v1/accounts/{account['id']}")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert {"GET", "PATCH", "DELETE"} <= allow(r)
    assert "POST" not in allow(r)
    r = await client.put(f"/api/v1/accounts/{account['id']}", json={}, headers=tenant.headers)
    assert r.status_code == 405
    assert {"GET", "PATCH", "DELETE"} <= allow(r)
    r = await client.options("/api/v1/accounts")
    assert {"GET", "POST"} <= allow(r)


async def test_schedules_import_takes_post_only(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for method in ("PATCH", "GET"):
        r = await client.request(method, "/api/v1/schedules/import", headers=tenant.headers)
        assert r.status_code == 405, (method, r.text)
        assert r.json()["error"]["code"] == "method_not_allowed"
        assert allow(r) == {"POST"}
    # A malformed schedule id is still a 422 on every other path.
    r = await client.get("/api/v1/schedules/importx", headers=tenant.headers)
    assert r.status_code == 422
    r = await client.get("/api/v1/schedules/not-a-uuid/attempts", headers=tenant.headers)
    assert r.status_code == 422


PRIVATE = [
    ("link", "http://169.254.169.254/latest/meta-data/", "link_refused"),
    ("link", "http://127.0.0.1:8000/admin", "link_refused"),
    ("link", "http://localhost./x", "link_refused"),
    ("media_urls", "http://169.254.169.254/a.jpg", "media_url_refused"),
    ("media_urls", "http://2852039166/a.jpg", "media_url_refused"),  # 169.254.169.254
    ("media_urls", "http://[::ffff:127.0.0.1]/a.jpg", "media_url_refused"),
    ("media_urls", "http://192.168.1.10/a.jpg", "media_url_refused"),
]


def content_with(field: str, url: str) -> dict[str, Any]:
    return {"text": "hello", field: [url] if field == "media_urls" else url}


@pytest.mark.parametrize(("field", "url", "code"), PRIVATE)
async def test_private_addresses_are_refused_in_links_and_media(
    client: httpx.AsyncClient, tenant: Tenant, field: str, url: str, code: str
) -> None:
    account = await make_account(client, tenant)
    content = content_with(field, url)
    r = await client.post(
        "/api/v1/schedules",
        json={"content": content, "account_ids": [account["id"]]},
        headers=tenant.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    ok = await client.post(
        "/api/v1/schedules",
        json={"content": {"text": "hello"}, "account_ids": [account["id"]]},
        headers=tenant.headers,
    )
    assert ok.status_code == 201
    r = await client.patch(
        f"/api/v1/schedules/{ok.json()['id']}", json={"content": content}, headers=tenant.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == code
    ref = {"account_id": account["id"], "external_id": f"{PROVIDER_IDS['facebook']}_42"}
    r = await client.post(
        "/api/v1/schedules/import", json={"content": content, "refs": [ref]}, headers=tenant.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == code


async def test_private_addresses_pass_when_the_setting_allows_them(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, MEDIA_ALLOW_PRIVATE_URLS=True)
    runtime = build_runtime(settings)
    try:
        tenant = await make_tenant(runtime)
        async with app_client(create_app(settings, runtime=runtime)) as client:
            account = await make_account(client, tenant)
            ref = {"account_id": account["id"], "external_id": f"{PROVIDER_IDS['facebook']}_42"}
            content = content_with("link", "http://127.0.0.1:9/x")
            r = await client.post(
                "/api/v1/schedules/import",
                json={"content": content, "refs": [ref]},
                headers=tenant.headers,
            )
            assert r.status_code == 201, r.text
    finally:
        await runtime.aclose()


def assert_security_headers(r: httpx.Response, *, api: bool) -> None:
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (r.request.url, name)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    if api:
        assert r.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_security_headers_on_every_response(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    api_answers = [
        await client.get("/api/v1/accounts", headers=tenant.headers),  # 200
        await client.get("/api/v1/accounts"),  # 401 from the gate
        await client.get("/api/v1/accounts/not-a-uuid", headers=tenant.headers),  # 422
        await client.get("/api/v1/nowhere", headers=tenant.headers),  # 404
        await client.post(  # 413 from the limits
            "/api/v1/schedules", content=b"x" * (2 * 1024 * 1024), headers=tenant.headers
        ),
    ]
    assert [r.status_code for r in api_answers] == [200, 401, 422, 404, 413]
    for r in api_answers:
        assert_security_headers(r, api=True)
    for path in ("/healthz", "/readyz", "/openapi.json", "/nowhere"):
        assert_security_headers(await client.get(path), api=False)
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert_security_headers(docs, api=False)
    # Swagger UI runs inline scripts: its page gets no script policy, only "never framed".
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "cache-control" not in docs.headers


async def test_security_headers_on_an_unexpected_500(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)

    async def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/api/v1/boom", boom)
    try:
        tenant = await make_tenant(runtime)
        async with app_client(app) as client:
            r = await client.get("/api/v1/boom", headers=tenant.headers)
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal_error"
        assert_security_headers(r, api=True)
    finally:
        await runtime.aclose()


async def test_readyz_writes_nothing_to_the_log(client: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        for _ in range(5):
            r = await client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ok"
    finally:
        configure_logging("INFO", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert lines == []


async def test_errors_of_the_edge_carry_cors_headers(tmp_path: Path, database_url: str) -> None:
    """CORS wraps the edge: a browser on an allowed origin can read a 401, 413 or 429."""
    origin = "https://dash.example.com"
    settings = make_settings(
        tmp_path, database_url, CORS_ORIGINS=origin, RATE_LIMIT_PER_ADDRESS="1/minute"
    )
    runtime = build_runtime(settings)
    try:
        async with app_client(create_app(settings, runtime=runtime)) as client:
            answers = [
                await client.get("/api/v1/accounts", headers={"Origin": origin}),
                await client.get("/api/v1/accounts", headers={"Origin": origin}),
                await client.post(
                    "/api/v1/schedules", content=b"x" * 2_000_000, headers={"Origin": origin}
                ),
            ]
        assert [r.status_code for r in answers] == [401, 429, 413]
        for r in answers:
            assert r.headers["access-control-allow-origin"] == origin
            assert r.headers["x-content-type-options"] == "nosniff"
    finally:
        await runtime.aclose()
