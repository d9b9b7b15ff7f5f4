"""Building a publishing world through the API, and `postmeter worker` as a subprocess."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import PublishAttempt
from tests.conftest import TEST_KEY, Tenant

ROOT = Path(__file__).resolve().parents[3]
FINAL = frozenset({"posted", "failed", "unknown"})
T = TypeVar("T")


async def connect_demo_accounts(
    api: httpx.AsyncClient, tenant: Tenant, demo: dict[str, Any]
) -> dict[str, str]:
    """The demo Page, its Instagram account and the LinkedIn organization, through the API:
    {provider: account id}."""
    accounts = {
        "facebook": (demo["page_id"], demo["page_token"]),
        "instagram": (demo["ig_user_id"], demo["page_token"]),
        "linkedin": (demo["org_urn"], demo["org_admin_token"]),
    }
    ids = {}
    for provider, (external_id, token) in accounts.items():
        r = await api.post(
            "/api/v1/accounts",
            headers=tenant.headers,
            json={
                "provider": provider,
                "external_id": external_id,
                "name": f"demo {provider}",
                "access_token": token,
            },
        )
        assert r.status_code == 201, r.text
        ids[provider] = r.json()["id"]
    return ids


async def create_schedule(
    api: httpx.AsyncClient,
    tenant: Tenant,
    *,
    text: str,
    media_url: str,
    publish_at: datetime,
    account_ids: list[str],
) -> uuid.UUID:
    r = await api.post(
        "/api/v1/schedules",
        headers=tenant.headers,
        json={
            "content": {"text": text, "media_urls": [media_url]},
            "publish_at": publish_at.isoformat(),
            "account_ids": account_ids,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "scheduled"
    return uuid.UUID(r.json()["id"])


async def schedule_if_settled(
    api: httpx.AsyncClient, tenant: Tenant, schedule_id: uuid.UUID
) -> dict[str, Any] | None:
    """The schedule as the API shows it once every target is in a final state, else None."""
    got = await api.get(f"/api/v1/schedules/{schedule_id}", headers=tenant.headers)
    body: dict[str, Any] = got.json()
    return body if all(t["state"] in FINAL for t in body["targets"]) else None


async def wait_for(
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
    what: str,
    log: Path | None = None,
) -> T:
    """Poll `check` until it returns something truthy; on timeout the failure shows the end of
    `log` as it is then (not as it was when the wait began)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    tail = f"\n{log.read_text()[-6000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout} s{tail}")


async def attempt_phases(runtime: Runtime) -> list[str]:
    async with runtime.sessionmaker() as s:
        return [str(p) for p in await s.scalars(select(PublishAttempt.phase))]


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a `postmeter worker` with these settings (nothing from the
    developer's environment: the root conftest removed every Postmeter setting)."""
    import os

    values = {
        "DATABASE_URL": settings.database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.DATA_DIR),
        "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "META_GRAPH_API_BASE": settings.META_GRAPH_API_BASE,
        "LINKEDIN_API_BASE": settings.LINKEDIN_API_BASE,
        "META_APP_SECRET": settings.META_APP_SECRET.get_secret_value()
        if settings.META_APP_SECRET
        else "",
        "MEDIA_ALLOW_PRIVATE_URLS": str(settings.MEDIA_ALLOW_PRIVATE_URLS).lower(),
        "PUBLISH_TICK_SECONDS": str(settings.PUBLISH_TICK_SECONDS),
        "PUBLISH_RECONCILE_SECONDS": str(settings.PUBLISH_RECONCILE_SECONDS),
        "INSIGHTS_POLL_TICK_SECONDS": str(settings.INSIGHTS_POLL_TICK_SECONDS),
        "LOG_LEVEL": "INFO",
    }
    return {**os.environ, **values, **overrides}


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`postmeter worker` (`python -m app.cli worker`), its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
