"""Direct database builders for service-level tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.core.runtime import Runtime
from app.models import (
    ExternalStatus,
    Provider,
    Schedule,
    ScheduleExternal,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from app.models.base import utcnow


@dataclass
class TrackedPost:
    workspace_id: uuid.UUID
    account_id: uuid.UUID
    schedule_id: uuid.UUID
    external_row_id: uuid.UUID


async def make_account(
    runtime: Runtime,
    *,
    workspace_id: uuid.UUID | None = None,
    provider: Provider = Provider.FACEBOOK,
    external_id: str = "1234567890",
    token: str = "test-token",
) -> tuple[uuid.UUID, uuid.UUID]:
    async with runtime.sessionmaker() as session, session.begin():
        if workspace_id is None:
            ws = Workspace(name="w")
            session.add(ws)
            await session.flush()
            workspace_id = ws.id
        account = SocialAccount(
            workspace_id=workspace_id,
            provider=provider,
            external_id=external_id,
            name=external_id,
            access_token_enc=runtime.cipher.encrypt(token),
        )
        session.add(account)
        await session.flush()
        return workspace_id, account.id


async def track_posts(
    runtime: Runtime,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    provider: Provider,
    external_ids: list[str],
    published_at: datetime | None = None,
) -> list[TrackedPost]:
    now = utcnow()
    out = []
    async with runtime.sessionmaker() as session, session.begin():
        for ext in external_ids:
            schedule = Schedule(
                workspace_id=workspace_id,
                status=ScheduleStatus.POSTED,
                publish_at=published_at or now,
                published_at=published_at or now,
                text=f"post {ext}",
            )
            session.add(schedule)
            await session.flush()
            row = ScheduleExternal(
                schedule_id=schedule.id,
                workspace_id=workspace_id,
                provider=provider,
                account_id=account_id,
                external_id=ext,
                published_at=published_at or now,
                status=ExternalStatus.LIVE,
                next_fetch_at=now,
            )
            session.add(row)
            await session.flush()
            out.append(TrackedPost(workspace_id, account_id, schedule.id, row.id))
    return out
