"""The FastAPI application: `/api/v1` routes, probes, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app import __version__
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.core.http_edge import API_PREFIX, RequestLimits, SecurityHeaders
from app.core.rate_limits import RateLimits
from app.core.runtime import Runtime, build_runtime
from app.routes import accounts, health, insights, schedules
from app.routes.auth import ApiGate
from app.routes.deps import SERVICES_STATE_KEY, AppServices
from app.services.insights_refresh import InsightsRefresher, open_refresher
from app.services.summary_cache import SummaryCache

DOCS_ASSETS_URL = "/docs-assets"


@asynccontextmanager
async def open_app_services(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    refresher: InsightsRefresher | None = None,
) -> AsyncIterator[AppServices]:
    """The app's services for its lifetime: what is handed in is used and left open (its owner
    closes it); what is built here is closed here."""
    async with AsyncExitStack() as owned:
        if runtime is None:
            runtime = build_runtime(settings or get_settings())
            owned.push_async_callback(runtime.aclose)
        if refresher is None:
            # Built at start-up, before any request holds SQLite's write lock.
            async with runtime.sessionmaker() as session:
                refresher = await open_refresher(runtime, session)
            owned.push_async_callback(refresher.clients.aclose)
        cfg = settings or runtime.settings
        limits = RateLimits.from_settings(cfg)
        if limits is not None:
            owned.push_async_callback(limits.aclose)
        yield AppServices(
            runtime=runtime,
            refresher=refresher,
            limits=limits,
            summaries=SummaryCache(cfg.INSIGHTS_SUMMARY_CACHE_SECONDS),
        )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    refresher: InsightsRefresher | None = None,
) -> FastAPI:
    """Build the app; its lifespan opens (or takes) its services and closes what it opened.

    Pass a `runtime` to share one engine (tests, the embedded server) and a `refresher` to share
    platform clients (the embedded server's in-process poller).
    """

    settings = settings or (runtime.settings if runtime is not None else get_settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, AppServices]]:
        async with open_app_services(settings, runtime=runtime, refresher=refresher) as services:
            yield {SERVICES_STATE_KEY: services}  # lifespan state: every request's `state`

    # /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline package, mounted at
    # DOCS_ASSETS_URL, not from a CDN: a self-hosted install may have no internet.
    app = FastAPIOffline(
        title="Postmeter",
        version=__version__,
        description="Schedule social posts and collect their real metrics.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
        # Swagger UI's validator badge would send the schema's address to swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    # The edge, innermost first (issue 10): the key checked and rate limits spent before any
    # body is read (ApiGate); heads and bodies bounded (RequestLimits); CORS answers preflights
    # and marks every answer, errors of the edge included; security headers on all of them.
    app.add_middleware(ApiGate)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
        max_header_bytes=settings.MAX_REQUEST_HEADER_BYTES,
    )
    if settings.CORS_ORIGINS:
        # Browsers on these origins may call the API with a key; no cookies are involved.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.CORS_ORIGINS),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app, database_retry_after=settings.DATABASE_RETRY_AFTER_SECONDS)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(accounts.router)
    api.include_router(schedules.router)
    api.include_router(insights.router)
    app.include_router(api)
    app.include_router(health.router)
    return app


def create_served_app() -> FastAPI:
    """The app of one of `postmeter serve --workers N`'s processes (uvicorn's app factory, run
    in each process it starts): settings from the environment, as the command had them."""
    from app.core.runtime import tune_gc_for_service
    from app.services.startup import load_settings_and_logging

    settings = load_settings_and_logging()
    # No access log, as with one process (uvicorn silenced it before this re-routed it).
    logging.getLogger("uvicorn.access").disabled = True
    tune_gc_for_service()
    return create_app(settings)
