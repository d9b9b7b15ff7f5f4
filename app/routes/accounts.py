"""`/api/v1/accounts`: connect accounts by pasting a token obtained elsewhere."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.models import AccountStatus, Provider
from app.routes.deps import ERRORS, CallerDep, PagingDep, RuntimeDep, SessionDep
from app.routes.links import ACCOUNT_LINKS, created
from app.schemas.accounts import AccountCreate, AccountOut, AccountUpdate
from app.schemas.common import Page
from app.services import accounts as service

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses={**ERRORS, **created(ACCOUNT_LINKS)}
)
async def create_account(
    body: AccountCreate, caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> AccountOut:
    """Connect an account. The token is stored encrypted and never returned."""
    account = await service.create_account(
        session, workspace_id=caller.workspace_id, data=body, cipher=runtime.cipher
    )
    return service.to_out(account)


@router.get("", responses=ERRORS)
async def list_accounts(
    caller: CallerDep,
    session: SessionDep,
    paging: PagingDep,
    provider: Annotated[Provider | None, Query()] = None,
    account_status: Annotated[AccountStatus | None, Query(alias="status")] = None,
) -> Page[AccountOut]:
    return await service.list_accounts(
        session,
        workspace_id=caller.workspace_id,
        limit=paging.limit,
        after=paging.after,
        provider=provider,
        status=account_status,
    )


@router.get("/{account_id}", responses=ERRORS)
async def get_account(account_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> AccountOut:
    account = await service.get_account(
        session, workspace_id=caller.workspace_id, account_id=account_id
    )
    return service.to_out(account)


@router.patch("/{account_id}", responses=ERRORS)
async def update_account(
    account_id: uuid.UUID,
    body: AccountUpdate,
    caller: CallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> AccountOut:
    """Rename, reconnect with a new token, or disable / re-enable an account."""
    account = await service.update_account(
        session,
        workspace_id=caller.workspace_id,
        account_id=account_id,
        data=body,
        cipher=runtime.cipher,
    )
    return service.to_out(account)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def delete_account(account_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> Response:
    await service.delete_account(session, workspace_id=caller.workspace_id, account_id=account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
