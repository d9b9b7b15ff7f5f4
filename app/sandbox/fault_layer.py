"""ASGI middleware that applies the injected faults before a request reaches the emulators."""

from __future__ import annotations

import asyncio
import json

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.sandbox.faults import ConnectionDropped, FaultRule
from app.sandbox.graph_errors import GraphError, service_unavailable
from app.sandbox.publish_faults import LostReply
from app.sandbox.state import SandboxState

_LINKEDIN_PREFIXES = ("/rest/", "/oauth/v2/", "/v2/", "/dms-uploads/")
_GARBLED = b'{"data":[{"name":"post_media_view","period":"lifetime","values":[{"value":'


def platform_of(path: str) -> str:
    return "linkedin" if path.startswith(_LINKEDIN_PREFIXES) else "meta"


def _server_error(status: int, platform: str) -> bytes:
    if platform == "meta":
        return json.dumps(service_unavailable().body()).encode()
    return json.dumps({"status": status, "code": "SERVER_ERROR",
                       "message": "Internal Server Error"}).encode()  # fmt: skip


def _error_body(rule: FaultRule, platform: str) -> tuple[int, bytes]:
    if rule.kind == "429":
        if platform == "meta":
            body = GraphError(4, "(#4) Application request limit reached", transient=True).body()
        else:
            body = {
                "status": 429,
                "serviceErrorCode": 101,
                "message": "Resource level throttle limit for calls to this resource is reached.",
            }
        return 429, json.dumps(body).encode()
    return rule.status, _server_error(rule.status, platform)


class FaultLayer:
    """Pure ASGI middleware: cheap when no fault rule exists."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.state.faults
        if scope["type"] != "http" or not faults.rules or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        platform = platform_of(path)
        rule = faults.pick(scope["method"], path, platform)
        if rule is None:
            await self.app(scope, receive, send)
            return
        self.state.counters.bump("faults", rule.kind)
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000.0)
        if rule.kind == "slow":
            await self.app(scope, receive, send)
            return
        if rule.kind == "drop":
            await _drop(send)
        if rule.kind == "malformed":
            status, body = 200, _GARBLED
        else:
            status, body = _error_body(rule, platform)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=UTF-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Promise a body, send part of it, then give up: the client sees a broken connection."""
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b'{"data":[', "more_body": True})
    raise ConnectionDropped("sandbox fault: connection dropped")


class _ResetResponse(Response):
    """The status line and headers of a chunked reply, then the connection closes: the client
    never sees a byte of the real reply."""

    def __init__(self) -> None:
        super().__init__(None, 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        raise ConnectionDropped("sandbox fault: connection reset after the post was created")


class _DelayedResponse(Response):
    """The real reply, sent only after ``delay_s`` (past the client's read timeout)."""

    def __init__(self, real: Response, delay_s: float) -> None:
        super().__init__(None, real.status_code)
        self.real = real
        self.delay_s = delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(self.delay_s)
        await self.real(scope, receive, send)


def lost_response(state: SandboxState, lost: LostReply, real: Response, platform: str) -> Response:
    """What the client gets instead of ``real`` when a publishing fault lost the reply."""
    rule = lost.rule
    state.counters.bump("faults", f"lost_reply {rule.mode}")
    if rule.mode == "timeout":
        return _DelayedResponse(real, rule.delay_ms / 1000.0)
    if rule.mode == "reset":
        return _ResetResponse()
    return Response(_server_error(rule.status, platform), rule.status,
                    media_type="application/json; charset=UTF-8")  # fmt: skip
