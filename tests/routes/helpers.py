"""Small builders shared by route tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant

PROVIDER_IDS = {
    "facebook": "1234567890",
    "instagram": "17841400000000001",
    "linkedin": "urn:li:organization:2414183",
}


async def make_account(
    client: httpx.AsyncClient, tenant: Tenant, provider: str = "facebook", **over: Any
) -> dict[str, Any]:
    body = {
        "provider": provider,
        "external_id": PROVIDER_IDS[provider],
        "name": f"{provider} account",
        "access_token": f"{provider}-token-abcdef123456",
        **over,
    }
    r = await client.post("/api/v1/accounts", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()
