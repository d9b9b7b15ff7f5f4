"""Bounded input (issue 10, finding 1): bodies and heads are capped, and the API key is
checked before a body is read. Driven at the ASGI level, so the test sees every `receive` the
app makes: what the server would have had to read off the socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.runtime import Runtime, build_runtime
from app.main import create_app
from tests.conftest import Tenant, make_settings, make_tenant

CAP = 64 * 1024
CHUNK = 16 * 1024


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int
    bytes_read: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Body:
    """A request body the app pulls in chunks; counts what it pulled."""

    total: int
    chunk: int = CHUNK
    sent: int = 0
    calls: int = 0
    extra: list[bytes] = field(default_factory=list)

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        if self.sent >= self.total:
            return {"type": "http.disconnect"}
        size = min(self.chunk, self.total - self.sent)
        self.sent += size
        return {"type": "http.request", "body": b"{" * size, "more_body": self.sent < self.total}


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[Any]:
    async with app.router.lifespan_context(app) as state:

        async def call(
            method: str, path: str, headers: list[tuple[bytes, bytes]], body: Body
        ) -> Reply:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": method,
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [(b"host", b"testserver"), *headers],
                "client": ("127.0.0.1", 50000),
                "server": ("testserver", 80),
                "state": dict(state or {}),
            }
            sent: list[MutableMapping[str, Any]] = []

            async def send(message: MutableMapping[str, Any]) -> None:
                sent.append(message)

            await app(scope, body.receive, send)
            start = next(m for m in sent if m["type"] == "http.response.start")
            payload = b"".join(
                m.get("body", b"") for m in sent if m["type"] == "http.response.body"
            )
            return Reply(
                status=start["status"],
                headers={k.decode().lower(): v.decode() for k, v in start["headers"]},
                body=payload,
                chunks_read=body.calls,
                bytes_read=body.sent,
            )

        yield call


@pytest.fixture
async def limited(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Any, Tenant, Runtime]]:
    settings = make_settings(
        tmp_path, database_url, MAX_REQUEST_BODY_BYTES=CAP, MAX_REQUEST_HEADER_BYTES=8192
    )
    runtime = build_runtime(settings)
    try:
        tenant = await make_tenant(runtime)
        async with served(create_app(settings, runtime=runtime)) as call:
            yield call, tenant, runtime
    finally:
        await runtime.aclose()


def auth(tenant: Tenant) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {tenant.api_key}".encode())]


JSON = [(b"content-type", b"application/json")]
# A body of unknown length, as HTTP/1.1 sends it (the server passes the header on).
CHUNKED = [(b"transfer-encoding", b"chunked")]


async def test_a_declared_body_over_the_cap_is_refused_unread(limited: Any) -> None:
    call, tenant, _ = limited
    size = 2 * 1024 * 1024
    headers = [*auth(tenant), *JSON, (b"content-length", str(size).encode())]
    r = await call("POST", "/api/v1/schedules", headers, Body(size))
    assert r.status == 413
    assert r.json()["error"]["code"] == "body_too_large"
    assert r.chunks_read == 0  # not one byte of the body was asked for
    assert r.headers["connection"] == "close"


async def test_a_streamed_body_is_cut_off_at_the_cap(limited: Any) -> None:
    call, tenant, _ = limited
    size = 2 * 1024 * 1024  # chunked: no Content-Length to refuse it by
    r = await call("POST", "/api/v1/schedules", [*auth(tenant), *JSON, *CHUNKED], Body(size))
    assert r.status == 413
    assert r.json()["error"]["code"] == "body_too_large"
    # Read up to the cap and one chunk past it, not the 2 MB.
    assert r.bytes_read <= CAP + CHUNK
    assert r.chunks_read <= CAP // CHUNK + 1
    assert r.headers["connection"] == "close"


async def test_a_body_under_the_cap_is_read_whole(limited: Any) -> None:
    call, tenant, _ = limited
    body = Body(CAP - 10)
    r = await call("POST", "/api/v1/schedules", [*auth(tenant), *JSON], body)
    assert r.status == 400  # read whole, then found to be malformed JSON
    assert r.json()["error"]["code"] == "malformed_json"
    assert r.bytes_read == CAP - 10
    assert "connection" not in r.headers  # read whole: the connection may be kept alive
    r = await call("GET", "/api/v1/schedules", [], Body(0))
    assert r.status == 401
    assert "connection" not in r.headers  # no body to leave unread


@pytest.mark.parametrize("declared", [True, False])
async def test_no_key_is_answered_before_the_body_is_read(limited: Any, declared: bool) -> None:
    call, _, _ = limited
    size = CAP // 2  # under the cap: only the missing key refuses it
    headers = [*JSON, *([(b"content-length", str(size).encode())] if declared else CHUNKED)]
    r = await call("POST", "/api/v1/schedules", headers, Body(size))
    assert r.status == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.chunks_read == 0
    # The rest of the body is not read either: the server is told to close the connection
    # (on a kept-alive one it would read the body to the end, to throw it away).
    assert r.headers["connection"] == "close"
    bad = [(b"authorization", b"Bearer pm_0123456789abcdef_wrong"), *headers]
    r = await call("POST", "/api/v1/schedules", bad, Body(size))
    assert r.status == 401
    assert r.chunks_read == 0


async def test_a_200_mb_unauthenticated_stream_reads_nothing(limited: Any) -> None:
    call, _, _ = limited
    body = Body(200 * 1024 * 1024, chunk=1 << 20)
    r = await call("POST", "/api/v1/schedules", [*JSON, *CHUNKED], body)
    assert r.status == 401
    assert r.bytes_read == 0


async def test_a_head_over_the_cap_is_431(limited: Any) -> None:
    call, tenant, _ = limited
    big = [(b"x-filler", b"a" * 9000)]
    r = await call("GET", "/api/v1/schedules", [*auth(tenant), *big], Body(0))
    assert r.status == 431
    assert r.json()["error"]["code"] == "headers_too_large"
    r = await call("GET", "/healthz", big, Body(0))
    assert r.status == 431
    many = [(f"x-h{i}".encode(), b"v" * 100) for i in range(100)]  # 10 KB in small headers
    r = await call("GET", "/healthz", many, Body(0))
    assert r.status == 431
    r = await call("GET", "/api/v1/schedules", auth(tenant), Body(0))
    assert r.status == 200


async def test_a_malformed_content_length_is_400(limited: Any) -> None:
    call, tenant, _ = limited
    for value in (b"-1", b"12abc", b"1e9"):
        headers = [*auth(tenant), *JSON, (b"content-length", value)]
        r = await call("POST", "/api/v1/schedules", headers, Body(10))
        assert r.status == 400, value
        assert r.json()["error"]["code"] == "invalid_content_length"
        assert r.chunks_read == 0
