"""Domain errors carry their HTTP status; one set of handlers renders them.

Every error response has the shape `{"error": {"code", "message", "details"?}}` (the schema is
`app.schemas.common.ErrorDetail`; `details` lists validation errors). Validation details never
echo the submitted input (it may hold an access token).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.db import DatabaseFault, database_fault
from app.core.http_edge import error_body, security_headers_dict
from app.core.logging import scrub

log = structlog.get_logger(__name__)


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class TooManyRequests(DomainError):
    """429 with Retry-After: a rate limit (app.core.rate_limits) has nothing left for now."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """503 with Retry-After: the database is busy, read-only or out of reach (see
    `app.core.db.DatabaseFault`); the request may be repeated as it was."""

    status_code = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


_FAULT_MESSAGES = {
    DatabaseFault.BUSY: "the database is busy; retry shortly",
    DatabaseFault.READ_ONLY: "the database does not accept writes right now; retry later",
    DatabaseFault.UNAVAILABLE: "the database is unavailable right now; retry later",
}


def database_unavailable(exc: BaseException, *, retry_after: int = 1) -> ServiceUnavailable | None:
    """The 503 for a database fault (busy, read-only, unreachable), or None for other errors."""
    fault = database_fault(exc)
    if fault is None:
        return None
    return ServiceUnavailable(_FAULT_MESSAGES[fault], code=fault.value, retry_after=retry_after)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        details.append({"loc": loc, "msg": str(err.get("msg", "")), "type": err.get("type")})
    return details


async def _domain_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(
        error_body(exc.code, exc.message), status_code=exc.status_code, headers=headers
    )


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    if any(d["type"] == "json_invalid" for d in details):
        return JSONResponse(
            error_body("malformed_json", "request body is not valid JSON"), status_code=400
        )
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(p for p in first["loc"] if p != "body") or "request"
    return JSONResponse(
        error_body("invalid_input", scrub(f"{where}: {first['msg']}"), details=details),
        status_code=422,
    )


_HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
    431: "headers_too_large",
}
# Methods an `Allow` header may name.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette's 405 names only the first
    route's, and a path often has a route per method)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    elif exc.status_code == 413:
        message = "request body is too large"
    elif exc.status_code == 400 and isinstance(
        exc.__cause__, RecursionError | UnicodeDecodeError | ValueError
    ):
        # FastAPI turns any body it cannot parse but a JSONDecodeError into a bare 400: JSON
        # nested too deeply for the parser, or bytes that are not UTF-8.
        code, message = "malformed_json", "request body is not valid JSON (or nested too deeply)"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)


def _database_handler(retry_after: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        """A busy, read-only or unreachable database is a 503 with Retry-After, not a 500."""
        unavailable = database_unavailable(exc, retry_after=retry_after)
        if unavailable is None:
            return await _unexpected_handler(request, exc)
        log.warning("api.database_unavailable", path=request.url.path, code=unavailable.code)
        return await _domain_handler(request, unavailable)

    return handle


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled_error", path=request.url.path, error=exc)
    # Sent by Starlette's outermost middleware, past app.core.http_edge.SecurityHeaders.
    return JSONResponse(
        error_body("internal_error", "internal server error"),
        status_code=500,
        headers=security_headers_dict(request.url.path),
    )


def install_error_handlers(app: FastAPI, *, database_retry_after: int = 1) -> None:
    app.add_exception_handler(DomainError, _domain_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(DBAPIError, _database_handler(database_retry_after))
    app.add_exception_handler(SQLAlchemyTimeoutError, _database_handler(database_retry_after))
    app.add_exception_handler(Exception, _unexpected_handler)
