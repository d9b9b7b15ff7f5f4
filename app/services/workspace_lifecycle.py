"""A workspace's lifecycle: disable, enable, delete.

Disabled (`workspaces.disabled_at` set): its API keys no longer authenticate (401, as for a
revoked key), no key can be created for it, and the publishing engine and the insights poller
start none of its work. Its schedules keep their status: a `scheduled` post due while the
workspace is disabled is not published, and is published at the next tick after the workspace
is enabled again, late (cancel or edit it first when that is not wanted); its tracked posts are
not polled, and are polled again once enabled. Work already under way when it was disabled (an
attempt that started, including the retries the engine schedules for it) runs to its settled
outcome, so that no post is left half-published or unrecorded.

Deleted: every row of the workspace goes in one transaction (keys, accounts, schedules, their
targets, attempts, tracked posts, snapshots and rollups), and then its DBOS work is cancelled.
A workspace with a publish attempt in `calling` (a create call that may be on the wire, or is
being reconciled) is not deleted: that attempt's record is what says whether the post exists.
Deleting disables the workspace first, in a transaction of its own, so no new attempt starts
while the calls under way settle; run the delete again then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import Conflict, NotFound
from app.models import (
    ApiKey,
    AttemptPhase,
    PostMetrics,
    PublishAttempt,
    Schedule,
    ScheduleExternal,
    ScheduleMetrics,
    ScheduleTarget,
    SocialAccount,
    Workspace,
)
from app.models.base import utcnow


def workspace_active(
    column: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> ColumnElement[bool]:
    """`column` (a workspace id) names a workspace that is not disabled: for the engine's and
    the poller's claims. The subquery lists disabled workspaces only (usually none)."""
    return column.not_in(select(Workspace.id).where(Workspace.disabled_at.is_not(None)))


async def _get(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} not found")
    return workspace


async def set_disabled(session: AsyncSession, workspace_id: uuid.UUID, *, disabled: bool) -> bool:
    """Disable or enable the workspace; False when it already was."""
    workspace = await _get(session, workspace_id)
    if (workspace.disabled_at is not None) == disabled:
        return False
    now = utcnow()
    await session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(disabled_at=now if disabled else None, updated_at=now)
    )
    await session.refresh(workspace)
    return True


@dataclass
class DeletedWorkspace:
    """What a delete removed: row counts per table, and the ids its DBOS work is found by."""

    workspace_id: uuid.UUID
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    target_ids: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)


async def calls_in_flight(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    """Publish attempts of the workspace in `calling` (a create call that may be under way)."""
    stmt = select(func.count()).where(
        PublishAttempt.workspace_id == workspace_id, PublishAttempt.phase == AttemptPhase.CALLING
    )
    return int(await session.scalar(stmt) or 0)


async def delete_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> DeletedWorkspace:
    """Delete every row of the workspace, in the caller's transaction; Conflict
    (`workspace_busy`) while one of its attempts is `calling`."""
    workspace = await _get(session, workspace_id)
    # A write first: the write lock (SQLite) and the workspace row's lock (PostgreSQL) are
    # taken now, so no claim starts an attempt for it from here to the commit.
    await session.execute(
        update(Workspace).where(Workspace.id == workspace_id).values(updated_at=utcnow())
    )
    attempts = select(PublishAttempt.phase).where(PublishAttempt.workspace_id == workspace_id)
    if session.get_bind().dialect.name == "postgresql":
        # An attempt about to move READY -> CALLING waits for this transaction, then finds
        # its row gone and makes no call.
        attempts = attempts.with_for_update()
    phases = list(await session.scalars(attempts))
    calling = sum(1 for phase in phases if phase == AttemptPhase.CALLING)
    if calling:
        raise Conflict(
            f"workspace {workspace_id} has {calling} post(s) being published right now "
            "(attempts in `calling`); their records say whether each post exists, so the "
            "workspace is not deleted until they settle",
            code="workspace_busy",
        )
    schedules = select(Schedule.id).where(Schedule.workspace_id == workspace_id)
    result = DeletedWorkspace(workspace_id, workspace.name)
    result.target_ids = [
        str(t)
        for t in await session.scalars(
            select(ScheduleTarget.id).where(ScheduleTarget.schedule_id.in_(schedules))
        )
    ]
    result.account_ids = [
        str(a)
        for a in await session.scalars(
            select(SocialAccount.id).where(SocialAccount.workspace_id == workspace_id)
        )
    ]
    # Children first: the foreign keys cascade as well, but the counts are said per table and
    # nothing depends on SQLite's foreign_keys pragma being on.
    steps = [
        ("post_metrics", delete(PostMetrics).where(PostMetrics.schedule_id.in_(schedules))),
        (
            "schedule_metrics",
            delete(ScheduleMetrics).where(ScheduleMetrics.schedule_id.in_(schedules)),
        ),
        (
            "publish_attempts",
            delete(PublishAttempt).where(PublishAttempt.workspace_id == workspace_id),
        ),
        (
            "schedule_targets",
            delete(ScheduleTarget).where(ScheduleTarget.schedule_id.in_(schedules)),
        ),
        (
            "schedule_external",
            delete(ScheduleExternal).where(ScheduleExternal.workspace_id == workspace_id),
        ),
        ("schedules", delete(Schedule).where(Schedule.workspace_id == workspace_id)),
        (
            "social_accounts",
            delete(SocialAccount).where(SocialAccount.workspace_id == workspace_id),
        ),
        ("api_keys", delete(ApiKey).where(ApiKey.workspace_id == workspace_id)),
        # Any table added later with a foreign key to workspaces goes by its ON DELETE CASCADE.
        ("workspaces", delete(Workspace).where(Workspace.id == workspace_id)),
    ]
    for table, stmt in steps:
        outcome = await session.execute(stmt.execution_options(synchronize_session=False))
        result.rows[table] = int(outcome.rowcount)  # type: ignore[attr-defined]
    session.expunge(workspace)
    return result
