"""`/api/v1/insights`: fetch now, latest metrics with analytics, history, summary."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.runtime import Runtime
from app.models import Provider
from app.routes.deps import ERRORS, CallerDep, RuntimeDep, SessionDep, check_range
from app.schemas.common import AwareDatetime
from app.schemas.insights import (
    FetchRequest,
    FetchResponse,
    HistoryOut,
    ScheduleMetricsOut,
    SummaryOut,
)
from app.services import insights as service
from app.services.insights_refresh import InsightsRefresher, open_refresher

router = APIRouter(prefix="/insights", tags=["insights"])


async def get_refresher(
    request: Request, runtime: Runtime, session: AsyncSession
) -> InsightsRefresher:
    """One refresher (and pooled platform clients) per app, created on first use.

    Uses the request's session: on SQLite a second session in the same request would wait
    for the write lock the first one holds.
    """
    state = request.app.state
    existing: InsightsRefresher | None = getattr(state, "refresher", None)
    if existing is not None:
        return existing
    refresher = await open_refresher(runtime, session)
    existing = getattr(state, "refresher", None)  # a concurrent first request may have won
    if isinstance(existing, InsightsRefresher):
        await refresher.clients.aclose()
        return existing
    state.refresher = refresher
    state.owns_refresher = True  # closed with the app
    return refresher


@router.post("/fetch/{schedule_id}", responses=ERRORS)
async def fetch_insights(
    schedule_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    request: Request,
    runtime: RuntimeDep,
    body: Annotated[FetchRequest | None, Body()] = None,
) -> FetchResponse:
    """Fetch now. Says per provider: fetched, fresh, or error with the reason."""
    return await service.fetch_now(
        session,
        workspace_id=caller.workspace_id,
        schedule_id=schedule_id,
        force_refresh=(body or FetchRequest()).force_refresh,
        refresher=await get_refresher(request, runtime, session),
    )


@router.get("/metrics/{schedule_id}", responses=ERRORS)
async def get_metrics(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleMetricsOut:
    """The latest snapshot per provider and the computed analytics."""
    return await service.schedule_metrics(
        session,
        workspace_id=caller.workspace_id,
        schedule_id=schedule_id,
    )


@router.get("/metrics/{schedule_id}/history", responses=ERRORS)
async def get_history(
    schedule_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    provider: Annotated[Provider | None, Query()] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HistoryOut:
    """Snapshots oldest first; `from`/`to` bound the snapshot time (half-open)."""
    check_range(start, end)
    items, next_cursor = await service.schedule_history(
        session,
        workspace_id=caller.workspace_id,
        schedule_id=schedule_id,
        provider=provider,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    return HistoryOut(items=items, next_cursor=next_cursor)


@router.get("/summary", responses=ERRORS)
async def get_summary(caller: CallerDep, session: SessionDep) -> SummaryOut:
    """Posts tracked, due now, fetched in 24 h, errors by kind, accounts and keys needing care."""
    return await service.summary(session, workspace_id=caller.workspace_id)
