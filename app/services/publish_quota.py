"""A publish attempt that waits for the account's publishing quota (Instagram's rolling
24-hour `content_publishing_limit`): what the engine records while it waits, and what it
reads to guess when the window frees.

A wait is not a failure: the attempt stays READY (nothing was created, so calling later is
safe), its target stays `publishing` with the wait as its message, and the target's
`settle_by` and `retry_until` move past the wait so the sweep does not take a waiting
target for a stuck one and a transient error after the wait can still be retried.

Functions here flush and never commit, like the rest of the attempt state machine.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AttemptPhase, PublishAttempt, ScheduleTarget
from app.services.publish_attempts import (
    MESSAGE_LIMIT,
    AttemptKey,
    Failure,
    cas_attempt,
    cas_target,
    refresh_schedule_status,
)


async def oldest_post_in_window(
    session: AsyncSession, account_id: uuid.UUID, *, since: datetime
) -> datetime | None:
    """When the oldest post Postmeter made on the account since `since` was created: the
    window frees a slot when it ages out (posts made elsewhere count too, unseen here)."""
    return await session.scalar(
        select(func.min(PublishAttempt.finished_at))
        .join(ScheduleTarget, ScheduleTarget.id == PublishAttempt.target_id)
        .where(
            ScheduleTarget.account_id == account_id,
            PublishAttempt.phase == AttemptPhase.CREATED,
            PublishAttempt.finished_at >= since,
        )
    )


async def undo_refused_call(session: AsyncSession, key: AttemptKey) -> bool:
    """CALLING -> READY after the platform refused the create for the quota: a refusal is an
    answer, so nothing was created and the attempt may call again once the window allows."""
    return await cas_attempt(
        session, key, [AttemptPhase.CALLING], phase=AttemptPhase.READY, call_started_at=None
    )


async def note_quota_wait(
    session: AsyncSession,
    key: AttemptKey,
    failure: Failure,
    *,
    settle_by: datetime,
    retry_until: datetime,
) -> bool:
    """Record the wait on the READY attempt and its target (shown in the attempt log and the
    target's error); False when the attempt is no longer READY (settled meanwhile)."""
    if not await cas_attempt(session, key, [AttemptPhase.READY], **failure.attempt_values()):
        return False
    await cas_target(
        session,
        key,
        error_kind=failure.kind,
        error=failure.message[:MESSAGE_LIMIT],
        settle_by=settle_by,
        retry_until=retry_until,
    )
    target = await session.get(ScheduleTarget, key.target_id)
    assert target is not None
    await refresh_schedule_status(session, target.schedule_id)
    return True
