"""Error bodies are what the OpenAPI schema says they are, `details` included."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs

from tests.conftest import Tenant


async def _error_validator(client: httpx.AsyncClient, path: str, method: str, status: int) -> Any:
    """A validator for the documented body of `status` on one route."""
    spec = (await client.get("/openapi.json")).json()
    body_schema = spec["paths"][path][method]["responses"][str(status)]["content"][
        "application/json"
    ]["schema"]
    return jsonschema_rs.Draft202012Validator({**body_schema, "components": spec["components"]})


async def test_openapi_error_detail_declares_typed_details(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    detail = schemas["ErrorDetail"]
    assert detail["required"] == ["code", "message"]  # `details` is optional
    assert detail["additionalProperties"] is False  # so nothing undocumented can slip in
    issue = detail["properties"]["details"]["anyOf"][0]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(schemas[issue]["properties"]) == {"loc", "msg", "type"}


async def test_a_422_body_validates_against_the_documented_schema(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    validator = await _error_validator(client, "/api/v1/accounts", "post", 422)
    bad = {"provider": "facebook", "name": "x" * 1000, "access_token": "tok-123456789"}
    r = await client.post("/api/v1/accounts", json=bad, headers=tenant.headers)
    assert r.status_code == 422
    body = r.json()
    assert len(body["error"]["details"]) == 2  # external_id missing, name too long
    validator.validate(body)
    # The validator is strict: a body the schema does not describe fails.
    assert not validator.is_valid({"error": {**body["error"], "extra": 1}})
    assert not validator.is_valid(
        {"error": {**body["error"], "details": [{"loc": "name", "msg": "x", "type": "y"}]}}
    )


async def test_errors_without_details_validate_too(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    path = "/api/v1/accounts/{account_id}"
    validator = await _error_validator(client, path, "get", 404)
    missing = "01a20b69-38bc-7e0b-ad4d-80f306a8d4b0"
    r = await client.get(f"/api/v1/accounts/{missing}", headers=tenant.headers)
    assert r.status_code == 404
    assert "details" not in r.json()["error"]
    validator.validate(r.json())
