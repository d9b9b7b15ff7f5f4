"""The API gate (app.routes.auth): what it takes for a bearer token, and a database fault
during the key check is a 503 with Retry-After (the gate runs outside the routes' handlers)."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers

from app.routes import auth
from tests.conftest import Tenant


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer pm_abc", "pm_abc"),
        ("bearer   pm_abc  ", "pm_abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer    ", None),
        ("", None),
    ],
)
def test_bearer_token(header: str, token: str | None) -> None:
    assert auth.bearer_token(Headers({"authorization": header})) == token


async def test_a_busy_database_during_the_key_check_is_503(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(*_args: Any, **_kwargs: Any) -> None:
        locked = sqlite3.OperationalError("database is locked")
        locked.sqlite_errorcode = 5
        raise OperationalError("SELECT ...", {}, locked)

    monkeypatch.setattr(auth, "authenticate", busy)
    r = await client.get("/api/v1/accounts", headers=tenant.headers)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database_busy"
    assert r.headers["retry-after"] == "1"


async def test_a_bug_during_the_key_check_is_a_500_without_details(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def bug(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"leaked {tenant.api_key}")

    monkeypatch.setattr(auth, "authenticate", bug)
    r = await client.get("/api/v1/accounts", headers=tenant.headers)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert tenant.api_key not in r.text
