"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.routes.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers, takes a write and is migrated to head")
async def readyz(services: ServicesDep) -> JSONResponse:
    """503 names the failing checks (`failing`: database, migrations, write) and what each
    found; the checks give up after READYZ_TIMEOUT_SECONDS."""
    readiness = await services.readiness.check(services.runtime)
    return JSONResponse(readiness.body(), status_code=200 if readiness.ready else 503)
