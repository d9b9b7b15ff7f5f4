"""Workspaces and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.security import api_secret_matches, generate_api_key, split_api_key
from app.models import ApiKey, Workspace
from app.models.base import utcnow

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: uuid.UUID
    workspace_id: uuid.UUID
    plaintext: str


async def create_workspace(session: AsyncSession, *, name: str) -> tuple[Workspace, IssuedKey]:
    """A workspace and its first API key (the plaintext is returned once)."""
    workspace = Workspace(name=name)
    session.add(workspace)
    await session.flush()
    key = await create_api_key(session, workspace_id=workspace.id)
    return workspace, key


async def create_api_key(
    session: AsyncSession, *, workspace_id: uuid.UUID, name: str = "default"
) -> IssuedKey:
    if await session.get(Workspace, workspace_id) is None:
        raise NotFound(f"workspace {workspace_id} not found")
    new = generate_api_key()
    row = ApiKey(
        workspace_id=workspace_id,
        name=name,
        lookup=new.lookup,
        secret_hash=new.secret_hash,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return IssuedKey(key_id=row.id, workspace_id=workspace_id, plaintext=new.plaintext)


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


async def list_workspaces(session: AsyncSession) -> list[Workspace]:
    return list((await session.scalars(select(Workspace).order_by(Workspace.id))).all())


async def authenticate(session: AsyncSession, *, presented: str) -> ApiKey | None:
    """The live key matching `presented`, or None. Touches last_used_at at most once a minute."""
    parts = split_api_key(presented)
    if parts is None:
        return None
    lookup, secret = parts
    row = await session.scalar(select(ApiKey).where(ApiKey.lookup == lookup))
    if row is None or row.revoked_at is not None or not api_secret_matches(secret, row.secret_hash):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return row
