"""CORS_ORIGINS: browsers on the listed origins may call the API; without it, no CORS at all."""

from __future__ import annotations

from pathlib import Path

from app.core.runtime import Runtime, build_runtime
from app.main import create_app
from tests.app_client import app_client
from tests.conftest import Tenant, make_settings, make_tenant

ALLOWED = "https://dash.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


async def test_listed_origins_pass_preflight_and_get_the_header(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, database_url, CORS_ORIGINS=f"{ALLOWED}, https://other.example.com"
    )
    runtime = build_runtime(settings)
    try:
        async with app_client(create_app(settings, runtime=runtime)) as client:
            r = await client.options("/api/v1/accounts", headers={"Origin": ALLOWED, **PREFLIGHT})
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == ALLOWED
            assert "authorization" in r.headers["access-control-allow-headers"].lower()
            assert "access-control-allow-credentials" not in r.headers

            r = await client.options(
                "/api/v1/accounts", headers={"Origin": "https://evil.example", **PREFLIGHT}
            )
            assert r.status_code == 400
            assert "access-control-allow-origin" not in r.headers

            tenant: Tenant = await make_tenant(runtime)
            r = await client.get("/api/v1/accounts", headers={"Origin": ALLOWED, **tenant.headers})
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == ALLOWED
    finally:
        await runtime.aclose()


async def test_no_origins_no_cors(runtime: Runtime) -> None:
    async with app_client(create_app(runtime.settings, runtime=runtime)) as c:
        r = await c.options("/api/v1/accounts", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert r.status_code == 405
        assert "access-control-allow-origin" not in r.headers
