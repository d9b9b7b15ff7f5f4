"""Rate limits (issue 10, finding 2): per client address without a valid key, per API key,
per workspace for `force_refresh` fetches, per address for the probes; 429 with Retry-After;
every failed authentication logged with the key's id and the address, never the secret."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.logging import configure_logging
from app.core.rate_limits import RateLimits
from app.core.runtime import Runtime, build_runtime
from app.main import create_app
from tests.app_client import app_client
from tests.conftest import Tenant, make_settings, make_tenant
from tests.core.test_rate_limits import redis_url_or_skip


@asynccontextmanager
async def api(
    tmp_path: Path, database_url: str, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    settings = make_settings(tmp_path, database_url, **overrides)
    runtime = build_runtime(settings)
    try:
        async with app_client(create_app(settings, runtime=runtime)) as client:
            yield client, runtime
    finally:
        await runtime.aclose()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield stream
    configure_logging("INFO", "json")


def events(stream: io.StringIO, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == name]


async def test_wrong_secrets_for_a_real_key_id_get_429_after_the_limit(
    tmp_path: Path, database_url: str, log_lines: io.StringIO
) -> None:
    async with api(tmp_path, database_url) as (client, runtime):  # the defaults: 60/minute
        tenant = await make_tenant(runtime)
        lookup = tenant.api_key.split("_")[1]
        statuses = []
        started = time.monotonic()
        for i in range(2000):
            bad = {"Authorization": f"Bearer pm_{lookup}_WrongSecret{i:04d}xyz"}
            r = await client.get("/api/v1/schedules", headers=bad)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["error"]["code"] == "rate_limited"
                assert int(r.headers["retry-after"]) >= 1
        elapsed = time.monotonic() - started
        assert statuses[:60] == [401] * 60
        # A sliding window: past the first 60, the budget refills at one a second.
        refilled = statuses[60:].count(401)
        assert refilled <= elapsed + 2
        assert statuses[60:].count(429) == 1940 - refilled
        # The key's owner, from the same address, is judged by its key's budget, not the
        # address's: a flood of wrong keys does not lock it out.
        r = await client.get("/api/v1/schedules", headers=tenant.headers)
        assert r.status_code == 200

    failed = events(log_lines, "auth.failed")
    # Every failure within the budget; over it, a line a minute for the address at most.
    assert len([f for f in failed if not f["rate_limited"]]) == 60 + refilled
    assert 1 <= len([f for f in failed if f["rate_limited"]]) <= elapsed / 60 + 2
    first = failed[0]
    assert first["key_id"] == tenant.key_id
    assert first["key_lookup"] == lookup
    assert first["client"] == "127.0.0.1"
    assert first["reason"] == "wrong_secret"
    assert first["level"] == "warning"
    assert "WrongSecret" not in log_lines.getvalue()


async def test_failure_reasons_are_logged_without_secrets(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, log_lines: io.StringIO
) -> None:
    from app.services.workspace_lifecycle import set_disabled
    from app.services.workspaces import create_api_key, revoke_api_key

    async with runtime.sessionmaker() as session, session.begin():
        await revoke_api_key(session, key_id=uuid.UUID(tenant.key_id))
        second = await create_api_key(session, workspace_id=uuid.UUID(tenant.workspace_id))
        await set_disabled(session, uuid.UUID(tenant.workspace_id), disabled=True)
    for presented in (
        tenant.api_key,
        second.plaintext,
        "pm_00000000000000ff_Nope1234",
        "not-a-key-Sekr1t",
    ):
        r = await client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {presented}"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    reasons = [(e["reason"], e["key_id"]) for e in events(log_lines, "auth.failed")]
    assert reasons == [
        ("revoked_key", tenant.key_id),
        ("workspace_inactive", str(second.key_id)),
        ("unknown_key", None),
        ("malformed_key", None),
    ]
    text = log_lines.getvalue()
    assert tenant.api_key.split("_", 2)[2] not in text
    assert second.plaintext.split("_", 2)[2] not in text
    assert "Sekr1t" not in text
    assert "Nope1234" not in text


async def test_requests_without_a_key_spend_the_address_budget(
    tmp_path: Path, database_url: str
) -> None:
    async with api(tmp_path, database_url, RATE_LIMIT_PER_ADDRESS="3/minute") as (client, _):
        got = [(await client.post("/api/v1/schedules", json={})).status_code for _ in range(5)]
        assert got == [401, 401, 401, 429, 429]


async def test_each_key_has_its_own_budget(tmp_path: Path, database_url: str) -> None:
    async with api(tmp_path, database_url, RATE_LIMIT_PER_KEY="5/minute") as (client, runtime):
        one, two = await make_tenant(runtime, "one"), await make_tenant(runtime, "two")
        got = [(await client.get("/api/v1/accounts", headers=one.headers)) for _ in range(6)]
        assert [r.status_code for r in got] == [200] * 5 + [429]
        refused = got[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert "per API key" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await client.get("/api/v1/accounts", headers=two.headers)).status_code == 200


async def test_force_refresh_has_a_stricter_budget_per_workspace(
    tmp_path: Path, database_url: str
) -> None:
    overrides = {"RATE_LIMIT_FORCE_REFRESH": "2/minute", "RATE_LIMIT_PER_KEY": "100/minute"}
    async with api(tmp_path, database_url, **overrides) as (client, runtime):
        tenant, other = await make_tenant(runtime, "one"), await make_tenant(runtime, "two")
        url = f"/api/v1/insights/fetch/{uuid.uuid4()}"
        force = {"force_refresh": True}

        async def fetch(who: Tenant, body: dict[str, bool] | None) -> httpx.Response:
            return await client.post(url, json=body, headers=who.headers)

        assert [(await fetch(tenant, force)).status_code for _ in range(2)] == [404, 404]
        refused = await fetch(tenant, force)
        assert refused.status_code == 429
        assert "force_refresh" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) >= 1
        # A second key of the same workspace shares its budget.
        async with runtime.sessionmaker() as session, session.begin():
            from app.services.workspaces import create_api_key

            second = await create_api_key(session, workspace_id=uuid.UUID(tenant.workspace_id))
        r = await client.post(
            url, json=force, headers={"Authorization": f"Bearer {second.plaintext}"}
        )
        assert r.status_code == 429
        # Plain fetches, and other workspaces, are not held back.
        assert (await fetch(tenant, None)).status_code == 404
        assert (await fetch(tenant, {"force_refresh": False})).status_code == 404
        assert (await fetch(other, force)).status_code == 404


async def test_probes_and_docs_have_a_budget_per_address(tmp_path: Path, database_url: str) -> None:
    async with api(tmp_path, database_url, RATE_LIMIT_PUBLIC="3/minute") as (client, _):
        got = [(await client.get("/healthz")).status_code for _ in range(4)]
        assert got == [200, 200, 200, 429]
        r = await client.get("/openapi.json")
        assert r.status_code == 429
        assert r.headers["retry-after"]


async def test_rate_limits_can_be_turned_off(tmp_path: Path, database_url: str) -> None:
    overrides = {"RATE_LIMIT_ENABLED": False, "RATE_LIMIT_PER_ADDRESS": "1/minute"}
    async with api(tmp_path, database_url, **overrides) as (client, _):
        got = {(await client.get("/api/v1/accounts")).status_code for _ in range(5)}
        assert got == {401}


async def test_processes_sharing_redis_share_the_budgets(tmp_path: Path, database_url: str) -> None:
    """Two apps (as two processes would be) on one Redis: one budget between them."""
    url = await redis_url_or_skip()
    overrides = {"RATE_LIMIT_STORAGE_URL": url, "RATE_LIMIT_PER_ADDRESS": "4/minute"}
    settings = make_settings(tmp_path, database_url, **overrides)
    limits = RateLimits.from_settings(settings)
    assert limits is not None
    await limits.reset()
    await limits.aclose()
    async with (
        api(tmp_path, database_url, **overrides) as (first, _),
        api(tmp_path, database_url, **overrides) as (second, _),
    ):
        got = []
        for client in (first, second, first, second, first, second):
            got.append((await client.get("/api/v1/accounts")).status_code)
        assert got == [401, 401, 401, 401, 429, 429]
