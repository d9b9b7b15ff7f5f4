from __future__ import annotations

import httpx
from sqlalchemy import text

from app.core.runtime import Runtime


async def test_probes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["migrations"]["current"] == r.json()["migrations"]["head"]
    head = r.json()["migrations"]["head"]
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'stale'"))
    try:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
    finally:  # the PostgreSQL test database is shared across tests
        async with runtime.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
