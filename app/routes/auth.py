"""The API gate: API keys checked, and rate limits spent, before any body is read.

FastAPI reads a request's body before it runs the route's dependencies, so a check made in a
dependency comes after the body is in memory. This pure ASGI middleware checks the key from
the headers first: a request to `/api/v1` without a valid key is answered 401 (or 429) at
once, its body unread. The caller it finds is left in the request's state, where
`app.routes.deps.get_caller` (the routes' `CallerDep`) takes it: one authentication per
request, one key lookup.

Rate limits (app.core.rate_limits): a request with a valid key spends from its key's budget;
one without (none, or a wrong one) from its client address's; the probes and the docs from
the address's public budget. Every failed authentication is logged with the key's id and the
client address, never the secret (an address over its budget: one line per minute).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import database_unavailable
from app.core.http_edge import is_api_path, send_error
from app.core.rate_limits import Budget, Refusal
from app.core.security import split_api_key
from app.models import ApiKey, Workspace
from app.routes.deps import (
    CALLER_STATE_KEY,
    GATE_SESSION_KEY,
    READ_METHODS,
    SERVICES_STATE_KEY,
    AppServices,
    Caller,
)
from app.services.workspaces import authenticate, write_key_touch

log = structlog.get_logger(__name__)

MISSING_KEY = "missing API key: send Authorization: Bearer <key>"
INVALID_KEY = "invalid or revoked API key"


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a presented key did not authenticate (for the log; the caller is told less)."""

    reason: str
    key_lookup: str | None = None
    key_id: uuid.UUID | None = None


def client_address(scope: Scope) -> str:
    """The client's address as the server saw it (uvicorn replaces it with X-Forwarded-For's
    only for proxies listed in FORWARDED_ALLOW_IPS, by default 127.0.0.1)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_token(headers: Headers) -> str | None:
    """The credentials of `Authorization: Bearer <token>`, or None."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class ApiGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        services = state.get(SERVICES_STATE_KEY) if isinstance(state, dict) else None
        if scope["type"] != "http" or not isinstance(services, AppServices):
            # No lifespan: `get_services` fails the request loudly.
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        limits = services.limits
        # The probes, the docs and OPTIONS (no key: CORS answers preflights before this; any
        # other OPTIONS is a 405 naming the methods) spend the address's public budget.
        if not is_api_path(scope["path"]) or scope["method"] == "OPTIONS":
            refusal = await limits.hit(Budget.PUBLIC, address) if limits else None
            if refusal is not None:
                await _refuse(scope, receive, send, refusal)
                return
            await self.app(scope, receive, send)
            return
        read = scope["method"] in READ_METHODS
        session = services.runtime.api_read_sessionmaker()
        try:
            try:
                answered = await self._authenticate(
                    scope, receive, send, services, address, session
                )
            except Exception as exc:
                await _database_fault(scope, receive, send, services, exc)
                return
            if answered:
                return
            if read:
                # The route reads in the transaction the key was read in (`get_session`):
                # one transaction per request, not two.
                scope["state"][GATE_SESSION_KEY] = session
                await self.app(scope, receive, send)
                return
        finally:
            await session.close()
            await write_key_touch(session, services.runtime.api_write_sessionmaker)
        await self.app(scope, receive, send)

    async def _authenticate(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        services: AppServices,
        address: str,
        session: AsyncSession,
    ) -> bool:
        """Leave the caller in the request's state (False), or answer the request (True)."""
        limits = services.limits
        token = bearer_token(Headers(scope=scope))
        if token is None:
            refusal = await limits.hit(Budget.ADDRESS, address) if limits else None
            if refusal is not None:
                await _refuse(scope, receive, send, refusal)
            else:
                await _unauthorized(scope, receive, send, MISSING_KEY)
            return True
        caller, refusal = await _check_key(services, session, token, address, scope)
        if caller is None:
            if refusal is not None:
                await _refuse(scope, receive, send, refusal)
            else:
                await _unauthorized(scope, receive, send, INVALID_KEY)
            return True
        refusal = await limits.hit(Budget.KEY, str(caller.key_id)) if limits else None
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
            return True
        scope["state"][CALLER_STATE_KEY] = caller
        return False


async def _check_key(
    services: AppServices, session: AsyncSession, token: str, address: str, scope: Scope
) -> tuple[Caller | None, Refusal | None]:
    """The key's caller, read in `session` (a read that never waits on a writer); or None
    and, when the address's budget is spent, the refusal (the failure is logged). The key's
    last_used_at, when due, is left pending in the session for `write_key_touch`."""
    limits = services.limits
    key = await authenticate(session, presented=token)
    if key is None:
        refusal = await limits.hit(Budget.ADDRESS, address) if limits else None
        # Past the budget, one line a minute per address: a flood must not flood the log
        # (nor cost a second read per request).
        if refusal is None or limits is None or await limits.allow(*_REFUSED_LOG, address):
            _log_failure(await _failure(session, token), address, scope, refused=refusal)
        return None, refusal
    return Caller(workspace_id=key.workspace_id, key_id=key.id), None


async def _database_fault(
    scope: Scope, receive: Receive, send: Send, services: AppServices, exc: Exception
) -> None:
    """A database that failed the key's read: 503 with Retry-After (anything else raises)."""
    retry_after = services.runtime.settings.DATABASE_RETRY_AFTER_SECONDS
    unavailable = database_unavailable(exc, retry_after=retry_after)
    if unavailable is None:
        raise exc
    log.warning("auth.database_unavailable", path=scope["path"], code=unavailable.code)
    await send_error(
        scope,
        receive,
        send,
        status=unavailable.status_code,
        code=unavailable.code,
        message=unavailable.message,
        headers={"Retry-After": str(unavailable.retry_after)},
    )


async def _failure(session: AsyncSession, token: str) -> Failure:
    """Name the key a failed authentication presented (only on failures: an indexed read)."""
    parts = split_api_key(token)
    if parts is None:
        return Failure(reason="malformed_key")
    lookup = parts[0]
    query = (
        select(ApiKey.id, ApiKey.revoked_at, Workspace.id.label("workspace"), Workspace.disabled_at)
        .outerjoin(Workspace, Workspace.id == ApiKey.workspace_id)
        .where(ApiKey.lookup == lookup)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return Failure(reason="unknown_key", key_lookup=lookup)
    if row.revoked_at is not None:
        reason = "revoked_key"
    elif row.workspace is None or row.disabled_at is not None:
        reason = "workspace_inactive"
    else:
        reason = "wrong_secret"
    return Failure(reason=reason, key_lookup=lookup, key_id=row.id)


# The ad-hoc budget of failure lines per address once its request budget is spent.
_REFUSED_LOG = ("1/minute", "auth_failed_log")


def _log_failure(failure: Failure, address: str, scope: Scope, *, refused: Refusal | None) -> None:
    log.warning(
        "auth.failed",
        reason=failure.reason,
        key_id=str(failure.key_id) if failure.key_id else None,
        key_lookup=failure.key_lookup,
        client=address,
        method=scope["method"],
        path=scope["path"],
        rate_limited=refused is not None,
    )


async def _unauthorized(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    await send_error(
        scope,
        receive,
        send,
        status=401,
        code="unauthorized",
        message=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    await send_error(
        scope,
        receive,
        send,
        status=429,
        code="rate_limited",
        message=refusal.message,
        headers={"Retry-After": str(refusal.retry_after)},
    )
