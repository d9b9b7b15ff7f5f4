"""The FastAPI application: `/api/v1` routes, probes, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.core.runtime import Runtime, build_runtime
from app.routes import accounts, health, insights, schedules

API_PREFIX = "/api/v1"
DOCS_ASSETS_URL = "/docs-assets"


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Pass a `runtime` to share one engine (tests, the embedded server)."""
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings or get_settings())
        app.state.runtime = rt
        try:
            yield
        finally:
            if getattr(app.state, "owns_refresher", False):
                await app.state.refresher.clients.aclose()
            if owns_runtime:
                await rt.aclose()

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
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(accounts.router)
    api.include_router(schedules.router)
    api.include_router(insights.router)
    app.include_router(api)
    app.include_router(health.router)
    return app
