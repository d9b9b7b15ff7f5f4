"""`/api/v1/schedules`: plan posts, import posts published elsewhere, read platform refs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from starlette.convertors import Convertor, register_url_convertor

from app.models import Provider, ScheduleStatus
from app.routes.deps import ERRORS, CallerDep, PagingDep, RuntimeDep, SessionDep
from app.routes.links import SCHEDULE_LINKS, created
from app.schemas.common import AwareDatetime, Page
from app.schemas.schedules import (
    ExternalOut,
    ScheduleCreate,
    ScheduleImport,
    ScheduleOut,
    ScheduleUpdate,
    TargetAttemptsOut,
)
from app.services import publishing
from app.services import schedules as service

router = APIRouter(prefix="/schedules", tags=["schedules"])


class _ScheduleRef(Convertor[str]):
    """A `{schedule_id}` path segment: anything but `import`, which is a route of its own, so
    `PATCH /schedules/import` is a 405 naming POST, not a 422 for a malformed id (the id is
    still validated as a UUID by the route's parameter)."""

    regex = "(?!import(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("schedule_ref", _ScheduleRef())


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses={**ERRORS, **created(SCHEDULE_LINKS)}
)
async def create_schedule(
    body: ScheduleCreate, caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> ScheduleOut:
    schedule = await service.create_schedule(
        session,
        workspace_id=caller.workspace_id,
        data=body,
        allow_private_urls=runtime.settings.MEDIA_ALLOW_PRIVATE_URLS,
    )
    return service.to_out(schedule)


@router.get("", responses=ERRORS)
async def list_schedules(
    caller: CallerDep,
    session: SessionDep,
    paging: PagingDep,
    schedule_status: Annotated[ScheduleStatus | None, Query(alias="status")] = None,
    provider: Annotated[Provider | None, Query()] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> Page[ScheduleOut]:
    """Newest first; `from`/`to` bound `publish_at` (half-open: `from` at or after `to` selects
    nothing)."""
    return await service.list_schedules(
        session,
        workspace_id=caller.workspace_id,
        limit=paging.limit,
        after=paging.after,
        status=schedule_status,
        provider=provider,
        start=start,
        end=end,
    )


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, **created(SCHEDULE_LINKS)},
)
async def import_schedule(
    body: ScheduleImport, caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> ScheduleOut:
    """Track posts published outside Postmeter; their metrics are polled like any other."""
    schedule = await service.import_schedule(
        session,
        workspace_id=caller.workspace_id,
        data=body,
        allow_private_urls=runtime.settings.MEDIA_ALLOW_PRIVATE_URLS,
    )
    return service.to_out(schedule)


@router.get("/{schedule_id:schedule_ref}", responses=ERRORS)
async def get_schedule(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleOut:
    schedule = await service.get_schedule(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
    return service.to_out(schedule)


@router.patch("/{schedule_id:schedule_ref}", responses=ERRORS)
async def update_schedule(
    schedule_id: uuid.UUID,
    body: ScheduleUpdate,
    caller: CallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ScheduleOut:
    schedule = await service.update_schedule(
        session,
        workspace_id=caller.workspace_id,
        schedule_id=schedule_id,
        data=body,
        allow_private_urls=runtime.settings.MEDIA_ALLOW_PRIVATE_URLS,
    )
    return service.to_out(schedule)


@router.post("/{schedule_id:schedule_ref}/cancel", responses=ERRORS)
async def cancel_schedule(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleOut:
    schedule = await service.cancel_schedule(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
    return service.to_out(schedule)


@router.get("/{schedule_id:schedule_ref}/external", responses=ERRORS)
async def list_external(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> list[ExternalOut]:
    rows = await service.list_externals(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
    return [ExternalOut.model_validate(r) for r in rows]


@router.post("/{schedule_id:schedule_ref}/publish", responses=ERRORS)
async def publish_schedule(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleOut:
    """Publish a draft or scheduled post now (the engine picks it up within a tick)."""
    schedule = await publishing.publish_now(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
    return service.to_out(schedule)


@router.post("/{schedule_id:schedule_ref}/retry", responses=ERRORS)
async def retry_schedule(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleOut:
    """Republish only the targets that failed; 409 `nothing_to_retry` when none did."""
    schedule = await publishing.retry_failed(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
    return service.to_out(schedule)


@router.get("/{schedule_id:schedule_ref}/attempts", responses=ERRORS)
async def list_attempts(
    schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> list[TargetAttemptsOut]:
    """Every try to create each target's post: when, what came back, how it was settled."""
    return await publishing.list_attempts(
        session, workspace_id=caller.workspace_id, schedule_id=schedule_id
    )
