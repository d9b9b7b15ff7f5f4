"""Workspaces and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import LOCK_TIMEOUT_MS, TX_MODE, TxMode, database_fault
from app.core.errors import Conflict, NotFound
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
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} not found")
    if workspace.disabled_at is not None:
        raise Conflict(
            f"workspace {workspace_id} is disabled: enable it first (`postmeter workspace enable`)",
            code="workspace_disabled",
        )
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


# Built once: every API request runs it.
_LIVE_KEY = (
    select(ApiKey)
    .join(Workspace, Workspace.id == ApiKey.workspace_id)
    .where(ApiKey.lookup == bindparam("lookup"), Workspace.disabled_at.is_(None))
)


async def authenticate(session: AsyncSession, *, presented: str) -> ApiKey | None:
    """The live key matching `presented`, or None. Touches last_used_at at most once a minute."""
    parts = split_api_key(presented)
    if parts is None:
        return None
    lookup, secret = parts
    # Only while its workspace exists and is active (not disabled): a key whose workspace is
    # disabled, or whose row is gone, authenticates no more than a revoked one.
    row = await session.scalar(_LIVE_KEY, {"lookup": lookup})
    if row is None or row.revoked_at is not None or not api_secret_matches(secret, row.secret_hash):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await _touch_last_used(session, row.id, now)
    return row


# A read request's session is read-only (app.core.db.TxMode.API_READ): its key's touch waits
# in `session.info` under this name for `write_key_touch`, after the read transaction.
PENDING_KEY_TOUCH = "postmeter_pending_key_touch"


async def _touch_last_used(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    if session.info.get(TX_MODE) == TxMode.API_READ:
        session.info[PENDING_KEY_TOUCH] = (key_id, now)
        return
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def write_key_touch(
    read_session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The last_used_at a read request left pending, in a write of its own that never waits:
    a busy or read-only database skips it (a later request touches the key again)."""
    pending = read_session.info.pop(PENDING_KEY_TOUCH, None)
    if pending is None:
        return
    key_id, now = pending
    try:
        async with sessionmaker() as session, session.begin():
            await session.connection(execution_options={LOCK_TIMEOUT_MS: 0})
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id)
                .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now))
                .values(last_used_at=now)
            )
    except (DBAPIError, SQLAlchemyTimeoutError) as exc:
        if database_fault(exc) is None:
            raise
