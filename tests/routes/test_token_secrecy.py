"""A token stored through the API is found in plain text nowhere: DB file, logs, responses."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import structlog
from sqlalchemy import text

from app.core.logging import configure_logging
from app.core.runtime import Runtime
from tests.conftest import Tenant

TOKEN = "EAAGm0PX4ZCpsBAKnownSecretToken9f8e7d6c5b4a"
REFRESH = "AQXknownRefreshTokenValue0123456789abcdef"


async def test_token_never_in_plaintext(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        responses: list[httpx.Response] = []
        body = {
            "provider": "facebook",
            "external_id": "555",
            "name": "Secret page",
            "access_token": TOKEN,
            "refresh_token": REFRESH,
        }
        responses.append(await client.post("/api/v1/accounts", json=body, headers=tenant.headers))
        acc_id = responses[-1].json()["id"]
        responses.append(await client.get(f"/api/v1/accounts/{acc_id}", headers=tenant.headers))
        responses.append(await client.get("/api/v1/accounts", headers=tenant.headers))
        responses.append(await client.post("/api/v1/accounts", json=body, headers=tenant.headers))
        responses.append(
            await client.post(
                "/api/v1/accounts", json={**body, "provider": "nope"}, headers=tenant.headers
            )
        )
        responses.append(
            await client.patch(
                f"/api/v1/accounts/{acc_id}",
                json={"access_token": TOKEN, "bogus": TOKEN},
                headers=tenant.headers,
            )
        )
        # Anything that logs the token by mistake is redacted on the way out.
        log = structlog.get_logger("test")
        log.info("insights.fetch.debug", access_token=TOKEN, url=f"/v25.0/1?access_token={TOKEN}")
        log.error("insights.fetch.failed", error=RuntimeError(f"Bearer {TOKEN} rejected"))
        logging.getLogger("httpx").warning("HTTP Request: GET /me?access_token=%s", TOKEN)
        logging.getLogger("app").error("upstream said %s", json.dumps({"access_token": REFRESH}))

        for r in responses:
            assert TOKEN not in r.text, r.text
            assert REFRESH not in r.text, r.text
        logs = stream.getvalue()
        assert "insights.fetch.debug" in logs
        assert "upstream said" in logs
        assert TOKEN not in logs, logs
        assert REFRESH not in logs, logs
    finally:
        configure_logging("INFO", "json")

    if runtime.settings.is_sqlite:
        await runtime.engine.dispose()  # flush everything to the file (and its WAL)
        db_path = Path(str(runtime.settings.async_database_url.database))
        for path in [db_path, *db_path.parent.glob(db_path.name + "-*")]:
            raw = path.read_bytes()
            assert TOKEN.encode() not in raw, path
            assert REFRESH.encode() not in raw, path
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM social_accounts"))).all()
    dump = repr(rows)
    assert "gAAAAA" in dump  # stored, but encrypted
    assert TOKEN not in dump
    assert REFRESH not in dump
