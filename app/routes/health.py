"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.routes.deps import RuntimeDep
from app.services.migrations import migration_status

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and migrations are at head")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    status = await migration_status(runtime.engine)
    body: dict[str, Any] = {
        "status": "ok" if status.ready else "unavailable",
        "database": "ok" if status.reachable else "unreachable",
        "migrations": {"current": status.current, "head": status.head},
    }
    return JSONResponse(body, status_code=200 if status.ready else 503)
