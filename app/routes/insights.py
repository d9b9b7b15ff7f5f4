"""`/api/v1/insights`: fetch now, latest metrics with analytics, history, summary."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from app.core.rate_limits import Budget
from app.models import Provider
from app.routes.deps import (
    ERRORS,
    CallerDep,
    CursorQuery,
    RefresherDep,
    ServicesDep,
    SessionDep,
    spend_budget,
)
from app.schemas.common import AwareDatetime
from app.schemas.insights import (
    FetchRequest,
    FetchResponse,
    HistoryOut,
    ScheduleMetricsOut,
    SummaryOut,
)
from app.services import insights as service

router = APIRouter(prefix="/insights", tags=["insights"])


@router.post("/fetch/{schedule_id}", responses=ERRORS)
async def fetch_insights(
    schedule_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    refresher: RefresherDep,
    services: ServicesDep,
    body: Annotated[FetchRequest | None, Body()] = None,
) -> FetchResponse:
    """Fetch now. Says per provider: fetched, fresh, or error with the reason.

    `force_refresh` spends the platforms' quotas: it has a budget per workspace of its own
    (RATE_LIMIT_FORCE_REFRESH), 429 `rate_limited` with Retry-After once it is spent."""
    force_refresh = (body or FetchRequest()).force_refresh
    if force_refresh:
        await spend_budget(services, Budget.FORCE_REFRESH, str(caller.workspace_id))
    plan = await service.plan_fetch(
        session,
        workspace_id=caller.workspace_id,
        schedule_id=schedule_id,
        force_refresh=force_refresh,
        fresh_seconds=refresher.settings.INSIGHTS_FRESH_SECONDS,
    )
    # The request's unit of work ends here: the refresh writes in a transaction of its own,
    # and SQLite's single writer must not be held by this one meanwhile.
    await session.commit()
    report = await refresher.refresh(plan.to_fetch, now=plan.now) if plan.to_fetch else None
    return service.fetch_response(plan, report)


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
    cursor: CursorQuery = None,
) -> HistoryOut:
    """Snapshots oldest first; `from`/`to` bound the snapshot time (half-open: `from` at or
    after `to` selects nothing)."""
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
async def get_summary(caller: CallerDep, session: SessionDep, services: ServicesDep) -> SummaryOut:
    """Posts tracked, due now, fetched in 24 h, errors by kind, accounts and keys needing care.

    It counts every post the workspace tracks, so it is computed at most once every
    INSIGHTS_SUMMARY_CACHE_SECONDS (default 5) per workspace and API process; `computed_at`
    says when."""

    async def compute() -> SummaryOut:
        return await service.summary(session, workspace_id=caller.workspace_id)

    return await services.summaries.get(caller.workspace_id, compute)
