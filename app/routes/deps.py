"""Request dependencies (the app's services, the unit of work, the caller's workspace, paging)
and what every route module shares: the documented error responses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import TooManyRequests
from app.core.rate_limits import Budget, RateLimits
from app.core.runtime import Runtime
from app.schemas.common import CURSOR_PATTERN, ErrorResponse, decode_cursor
from app.services.insights_refresh import InsightsRefresher
from app.services.readiness import ReadinessProbe
from app.services.summary_cache import SummaryCache

# The key of the app's services in the lifespan state (Starlette copies that state into every
# request's `request.state`).
SERVICES_STATE_KEY = "services"


@dataclass(frozen=True, slots=True)
class AppServices:
    """What every request of one app shares, for the app's lifetime: built (or handed over by
    the embedded server) and closed by the app's lifespan, never created by a request."""

    runtime: Runtime
    # "Fetch now": pooled platform clients that know the remembered metric rejections.
    refresher: InsightsRefresher
    # Each workspace's summary, computed at most once per INSIGHTS_SUMMARY_CACHE_SECONDS.
    summaries: SummaryCache
    # The API's rate limits (None when RATE_LIMIT_ENABLED is false).
    limits: RateLimits | None = None
    # /readyz's checks, at most one database write a second however often it is called.
    readiness: ReadinessProbe = field(default_factory=ReadinessProbe)


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def` one in
# its thread pool, a thread hop per dependency per request (a fifth of a page's CPU).
async def get_services(request: Request) -> AppServices:
    services = getattr(request.state, SERVICES_STATE_KEY, None)
    if not isinstance(services, AppServices):
        # A server (or test client) that skipped the lifespan: fail loudly, not per route.
        raise RuntimeError("the app's lifespan has not run: serve it with lifespan enabled")
    return services


ServicesDep = Annotated[AppServices, Depends(get_services)]


async def get_runtime(services: ServicesDep) -> Runtime:
    return services.runtime


async def get_refresher(services: ServicesDep) -> InsightsRefresher:
    return services.refresher


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RefresherDep = Annotated[InsightsRefresher, Depends(get_refresher)]


# Methods that only read: their unit of work is a read-only transaction.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Where the API gate leaves its read session for a read request's route (`get_session`).
GATE_SESSION_KEY = "gate_session"


async def get_session(runtime: RuntimeDep, request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed when the route returns, before the response is
    sent, unless the route already committed (fetch now ends its unit of work before the
    refresh writes in a transaction of its own); rolled back on any error.

    A GET or HEAD reads in a transaction that never waits on a writer (SQLite: deferred BEGIN
    under WAL; PostgreSQL: READ ONLY); any other method writes in one that waits at most
    DATABASE_API_LOCK_TIMEOUT_MS for locks (app.core.db.TxMode). A database that stays busy,
    turns read-only or is out of reach answers 503 with Retry-After (app.core.errors).
    """
    read = request.method in READ_METHODS
    shared = getattr(request.state, GATE_SESSION_KEY, None) if read else None
    async with AsyncExitStack() as owned:
        if isinstance(shared, AsyncSession):
            session = shared  # the API gate's read session, the key read in it; it closes it
        else:
            maker = runtime.api_read_sessionmaker if read else runtime.api_write_sessionmaker
            session = await owned.enter_async_context(maker())
        try:
            yield session
            if session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer pm_...`")


# Where the API gate (app.routes.auth.ApiGate) leaves the authenticated caller: in the
# request's state, set from its headers before the body is read.
CALLER_STATE_KEY = "caller"


@dataclass(frozen=True, slots=True)
class Caller:
    workspace_id: uuid.UUID
    key_id: uuid.UUID


async def get_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller the API gate authenticated (`_bearer` declares the scheme in the schema).

    The key is checked by the gate, before FastAPI reads the body: a request without a valid
    key never reaches a route, so its body is never read."""
    caller = getattr(request.state, CALLER_STATE_KEY, None)
    if not isinstance(caller, Caller):
        raise RuntimeError("the API gate did not run: build the app with app.main.create_app")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def spend_budget(services: AppServices, budget: Budget, identity: str) -> None:
    """One request from `identity`'s `budget`; 429 `rate_limited` when it has none left."""
    if services.limits is None:
        return
    refusal = await services.limits.hit(budget, identity)
    if refusal is not None:
        raise TooManyRequests(refusal.message, retry_after=refusal.retry_after)


# A `cursor` query parameter: its pattern stated in the schema; a value off it is a 422
# `invalid_cursor` from the decoder (`app.schemas.common.cursor_bytes`).
CursorQuery = Annotated[
    str | None,
    Query(
        description="`next_cursor` of the previous page.",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    ),
]


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    after: uuid.UUID | None


async def get_paging(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: CursorQuery = None,
) -> Paging:
    return Paging(limit=limit, after=decode_cursor(cursor))


PagingDep = Annotated[Paging, Depends(get_paging)]


# The error responses every route documents (the body is always `{"error": {...}}`).
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 422, 429, 503)
}
# 429 (rate limited) and 503 (database busy or unavailable) say when to try again.
for _code in (429, 503):
    ERRORS[_code]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before repeating the request.",
            "schema": {"type": "integer", "minimum": 0},
        }
    }
