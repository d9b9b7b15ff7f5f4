"""The HTTP edge: what every request meets before the routes, as pure ASGI middleware.

- `SecurityHeaders`: nosniff, no framing, no referrer on every response; `no-store` and a
  CSP that allows nothing on the API's responses (the docs pages keep what they need).
- `RequestLimits`: a request line plus headers over MAX_REQUEST_HEADER_BYTES is a 431; a
  declared body (Content-Length) over MAX_REQUEST_BODY_BYTES is a 413 before a byte of it is
  read; a streamed (chunked) body is counted as it arrives and cut off at the limit (413, by
  Starlette's `RequestBodyLimitMiddleware`, rendered by `app.core.errors`).

They are ASGI middleware, not server options, so the limits hold behind any server or proxy;
`postmeter serve` also bounds what uvicorn buffers of a request's head (app/cli/run.py).
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/v1"
# Swagger UI and ReDoc run inline scripts and styles: their pages get no content policy
# beyond "never framed".
DOCS_PATHS = ("/docs", "/redoc", "/docs-assets")

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_OTHER = ((b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),)
_API = (*_OTHER, (b"cache-control", b"no-store"))
_DOCS = ((b"content-security-policy", b"frame-ancestors 'none'"),)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The body of every error response: `{"error": {"code", "message", ...}}`."""
    return {"error": {"code": code, "message": message, **extra}}


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def security_headers(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers for a response to `path`."""
    if is_api_path(path):
        return _COMMON + _API
    if path.startswith(DOCS_PATHS):
        return _COMMON + _DOCS
    return _COMMON + _OTHER


def security_headers_dict(path: str) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in security_headers(path)}


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with an error of the API's schema, from middleware (before any route)."""
    response = JSONResponse(error_body(code, message), status_code=status, headers=headers)
    await response(scope, receive, send)


class SecurityHeaders:
    """Adds `security_headers(path)` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def head_size(scope: Scope) -> int:
    """The size of the request line and headers as sent (near enough: separators counted)."""
    line = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + 12
    query = scope.get("query_string") or b""
    size = line + (len(query) + 1 if query else 0)
    for name, value in scope.get("headers", ()):
        size += len(name) + len(value) + 4
    return size


class RequestLimits:
    """431 for a head over `max_header_bytes`; 413 for a body over `max_body_bytes`, declared
    (refused before reading) or streamed (cut off as it arrives)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_body_bytes)
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, code, message = refusal
            await send_error(
                scope,
                receive,
                send,
                status=status,
                code=code,
                message=message,
                headers={"Connection": "close"},
            )
            return
        await self._unread_bodies_close(scope, receive, send)

    async def _unread_bodies_close(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A response sent before the request's body was read whole (a 401 from the API gate,
        a 413 cut-off, a 404) closes the connection: on a kept-alive one the server would go on
        reading the rest of the body, to throw it away, however long it is."""
        names = {name for name, _ in scope.get("headers", ())}
        declared = dict(scope.get("headers", ())).get(b"content-length", b"0").strip()
        finished = b"transfer-encoding" not in names and declared in (b"", b"0")

        async def receive_watching() -> Message:
            nonlocal finished
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                finished = True
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not finished:
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_watching, send_closing)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """(status, code, message) for a head or declared body over its limit, else None."""
        if head_size(scope) > self.max_header_bytes:
            return (
                431,
                "headers_too_large",
                f"request line and headers exceed {self.max_header_bytes} bytes",
            )
        declared = [v for n, v in scope.get("headers", ()) if n == b"content-length"]
        if not declared:
            return None
        raw = declared[0].strip()
        if len(declared) > 1 or not raw.isdigit():
            return 400, "invalid_content_length", "Content-Length must be one non-negative integer"
        if int(raw) > self.max_body_bytes:
            return 413, "body_too_large", f"request body exceeds {self.max_body_bytes} bytes"
        return None
