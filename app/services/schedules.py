"""Schedules: create, edit, cancel, import posts published elsewhere, list platform refs."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.errors import Conflict, InvalidInput, NotFound
from app.models import (
    AccountStatus,
    Provider,
    Schedule,
    ScheduleExternal,
    ScheduleStatus,
    ScheduleTarget,
    SocialAccount,
    TargetState,
)
from app.models.base import utcnow
from app.publishers.base import external_values
from app.schemas.common import Page, encode_cursor
from app.schemas.schedules import (
    Content,
    ScheduleCreate,
    ScheduleImport,
    ScheduleOut,
    ScheduleUpdate,
    check_post_external_id,
)
from app.services.content_checks import check_content, check_content_urls

CLOCK_SKEW = timedelta(minutes=5)
EDITABLE = (ScheduleStatus.DRAFT, ScheduleStatus.SCHEDULED)


def to_out(schedule: Schedule) -> ScheduleOut:
    return _out(schedule, schedule.targets)


def _out(schedule: Any, targets: Sequence[Any]) -> ScheduleOut:
    """The API's view of a schedule: an ORM object or a row of `_LISTED` columns, and its
    targets (objects or rows of `_LISTED_TARGET` columns).

    Validated from one plain dict in pydantic's core (a listing's rows included): cheaper than
    building each nested model in Python (`model_construct` cost 2.5 times as much for a page
    of 50), and nothing reaches a reply unchecked."""
    return ScheduleOut.model_validate(
        {
            "id": schedule.id,
            "status": schedule.status,
            "content": {
                "text": schedule.text,
                "link": schedule.link,
                "media_urls": schedule.media_urls or [],
            },
            "publish_at": schedule.publish_at,
            "published_at": schedule.published_at,
            "targets": [
                {
                    "account_id": t.account_id,
                    "provider": t.provider,
                    "state": t.state,
                    "external_id": t.external_id,
                    "error": t.error,
                }
                for t in targets
            ],
            "last_error": schedule.last_error,
            "created_at": schedule.created_at,
            "updated_at": schedule.updated_at,
        }
    )


# What a listing reads: plain columns, not ORM objects (a page of 50 spent most of its time
# building and tracking objects it only reads once).
_LISTED = (
    Schedule.id,
    Schedule.status,
    Schedule.text,
    Schedule.link,
    Schedule.media_urls,
    Schedule.publish_at,
    Schedule.published_at,
    Schedule.last_error,
    Schedule.created_at,
    Schedule.updated_at,
)
_LISTED_TARGET = (
    ScheduleTarget.schedule_id,
    ScheduleTarget.account_id,
    ScheduleTarget.provider,
    ScheduleTarget.state,
    ScheduleTarget.external_id,
    ScheduleTarget.error,
)


async def _load_accounts(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    lock: bool = False,
) -> list[SocialAccount]:
    """The accounts, in the given order, each checked to belong to the workspace.

    `lock` takes their rows (PostgreSQL: FOR NO KEY UPDATE, in id order) until the transaction
    ends, so two imports of the same account's posts check and insert one after the other.
    SQLite's write transactions are one at a time already."""
    if len(set(account_ids)) != len(account_ids):
        raise InvalidInput(
            "account_ids: the same account is listed twice", code="duplicate_account"
        )
    stmt = select(SocialAccount).where(
        SocialAccount.workspace_id == workspace_id, SocialAccount.id.in_(account_ids)
    )
    if lock:
        stmt = stmt.order_by(SocialAccount.id).with_for_update(key_share=True)  # NO KEY UPDATE
    found = {a.id: a for a in await session.scalars(stmt)}
    missing = [str(i) for i in account_ids if i not in found]
    if missing:
        # Not found, as an id in the path would be: whether an account exists (in this
        # workspace) is the server's state, not a rule of the request's shape.
        raise NotFound(f"account_ids: account {missing[0]} not found", code="unknown_account")
    accounts = [found[i] for i in account_ids]
    seen: set[Provider] = set()
    for account in accounts:
        if account.provider in seen:
            raise InvalidInput(
                f"account_ids: at most one {account.provider.value} account per schedule",
                code="duplicate_provider",
            )
        seen.add(account.provider)
        if account.status == AccountStatus.DISABLED:
            raise InvalidInput(
                f"account_ids: account {account.id} is disabled", code="account_disabled"
            )
    return accounts


def _check_publish_at(publish_at: datetime | None) -> None:
    if publish_at is not None and publish_at < utcnow() - CLOCK_SKEW:
        raise InvalidInput("publish_at: is in the past", code="publish_at_in_past")


def _apply_content(schedule: Schedule, content: Content) -> None:
    schedule.text = content.text
    schedule.link = str(content.link) if content.link else None
    schedule.media_urls = [str(u) for u in content.media_urls]


async def create_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    data: ScheduleCreate,
    allow_private_urls: bool = False,
) -> Schedule:
    accounts = await _load_accounts(
        session, workspace_id=workspace_id, account_ids=data.account_ids
    )
    check_content(
        data.content, [a.provider for a in accounts], allow_private_urls=allow_private_urls
    )
    _check_publish_at(data.publish_at)
    schedule = Schedule(
        workspace_id=workspace_id,
        publish_at=data.publish_at,
        status=ScheduleStatus.SCHEDULED if data.publish_at else ScheduleStatus.DRAFT,
        targets=[ScheduleTarget(account_id=a.id, provider=a.provider) for a in accounts],
    )
    _apply_content(schedule, data.content)
    session.add(schedule)
    await session.flush()
    return schedule


async def get_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    schedule_id: uuid.UUID,
    for_update: bool = False,
) -> Schedule:
    """`for_update` locks the row (PostgreSQL) so a change decided on its status cannot race
    the engine's claim, which re-checks the status it expects."""
    stmt = (
        select(Schedule)
        .where(Schedule.id == schedule_id, Schedule.workspace_id == workspace_id)
        .options(selectinload(Schedule.targets))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Schedule).execution_options(populate_existing=True)
    schedule = await session.scalar(stmt)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} not found")
    return schedule


_PAGE_FILTERS = ("status", "provider", "start", "end", "after")


@functools.cache
def _page_statement(
    status: bool, provider: bool, start: bool, end: bool, after: bool
) -> Select[*tuple[Any, ...]]:
    """A listing's query for the filters it has, built once (building a statement on every
    request cost a fifth of a page's CPU); the values are bound parameters."""
    stmt = select(*_LISTED).where(Schedule.workspace_id == bindparam("workspace_id"))
    if status:
        stmt = stmt.where(Schedule.status == bindparam("status"))
    if provider:
        stmt = stmt.where(
            exists().where(
                ScheduleTarget.schedule_id == Schedule.id,
                ScheduleTarget.provider == bindparam("provider"),
            )
            | exists().where(
                ScheduleExternal.schedule_id == Schedule.id,
                ScheduleExternal.provider == bindparam("provider"),
            )
        )
    if start:
        stmt = stmt.where(Schedule.publish_at >= bindparam("start"))
    if end:
        stmt = stmt.where(Schedule.publish_at < bindparam("end"))
    if after:
        stmt = stmt.where(Schedule.id < bindparam("after"))
    return stmt.order_by(Schedule.id.desc()).limit(bindparam("limit", type_=Integer))


_PAGE_TARGETS = (
    select(*_LISTED_TARGET)
    .where(ScheduleTarget.schedule_id.in_(bindparam("ids", expanding=True)))
    .order_by(ScheduleTarget.id)
)


async def list_schedules(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    limit: int,
    after: uuid.UUID | None,
    status: ScheduleStatus | None = None,
    provider: Provider | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Page[ScheduleOut]:
    params = {
        "workspace_id": workspace_id,
        "status": status,
        "provider": provider,
        "start": start,
        "end": end,
        "after": after,
        "limit": limit + 1,
    }
    stmt = _page_statement(*(params[name] is not None for name in _PAGE_FILTERS))
    rows = list(await session.execute(stmt, params))
    more = len(rows) > limit
    rows = rows[:limit]
    targets: dict[uuid.UUID, list[Any]] = {r.id: [] for r in rows}
    if rows:
        for target in await session.execute(_PAGE_TARGETS, {"ids": list(targets)}):
            targets[target.schedule_id].append(target)
    return Page(
        items=[_out(r, targets[r.id]) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


async def update_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    schedule_id: uuid.UUID,
    data: ScheduleUpdate,
    allow_private_urls: bool = False,
) -> Schedule:
    schedule = await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    if schedule.status not in EDITABLE:
        raise Conflict(
            f"schedule is {schedule.status.value}; only drafts and scheduled posts can be edited",
            code="not_editable",
        )
    if data.account_ids is not None:
        accounts = await _load_accounts(
            session, workspace_id=workspace_id, account_ids=data.account_ids
        )
        providers = [a.provider for a in accounts]
    else:
        accounts = None
        providers = [t.provider for t in schedule.targets]
    content = data.content or Content.model_validate(schedule.content())
    check_content(content, providers, allow_private_urls=allow_private_urls)
    if data.content is not None:
        _apply_content(schedule, data.content)
    if "publish_at" in data.model_fields_set:
        _check_publish_at(data.publish_at)
        schedule.publish_at = data.publish_at
        schedule.status = ScheduleStatus.SCHEDULED if data.publish_at else ScheduleStatus.DRAFT
    if accounts is not None:
        schedule.targets.clear()
        await session.flush()  # delete old targets before the unique (schedule, provider) rows
        schedule.targets.extend(
            ScheduleTarget(account_id=a.id, provider=a.provider) for a in accounts
        )
    schedule.updated_at = utcnow()
    await session.flush()
    return schedule


async def cancel_schedule(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> Schedule:
    schedule = await get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    if schedule.status == ScheduleStatus.CANCELLED:
        return schedule
    if schedule.status not in EDITABLE:
        raise Conflict(
            f"schedule is {schedule.status.value} and cannot be cancelled", code="not_cancellable"
        )
    schedule.status = ScheduleStatus.CANCELLED
    schedule.updated_at = utcnow()
    await session.flush()
    return schedule


async def import_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    data: ScheduleImport,
    allow_private_urls: bool = False,
) -> Schedule:
    """Track posts published elsewhere: a `posted` schedule with one external ref per post."""
    if data.content is not None:
        check_content_urls(data.content, allow_private_urls=allow_private_urls)
    now = utcnow()
    if data.published_at is not None and data.published_at > now + CLOCK_SKEW:
        raise InvalidInput("published_at: is in the future", code="published_at_in_future")
    # Locked: the "already tracked" check below and the insert after it are one step for
    # any import of these accounts' posts (two concurrent imports of one post tracked it
    # twice on PostgreSQL; nothing unique guards the pair).
    accounts = await _load_accounts(
        session,
        workspace_id=workspace_id,
        account_ids=[r.account_id for r in data.refs],
        lock=True,
    )
    for ref, account in zip(data.refs, accounts, strict=True):
        try:
            check_post_external_id(account.provider, ref.external_id)
        except ValueError as exc:
            raise InvalidInput(f"refs: {exc}", code="invalid_external_id") from None
    content = data.content or Content()
    published_at = data.published_at or now
    schedule = Schedule(
        workspace_id=workspace_id,
        status=ScheduleStatus.POSTED,
        publish_at=published_at,
        published_at=published_at,
        targets=[
            ScheduleTarget(
                account_id=a.id,
                provider=a.provider,
                state=TargetState.POSTED,
                external_id=ref.external_id,
                url=str(ref.url) if ref.url else None,
            )
            for ref, a in zip(data.refs, accounts, strict=True)
        ],
    )
    _apply_content(schedule, content)
    session.add(schedule)
    await session.flush()
    for ref, account in zip(data.refs, accounts, strict=True):
        duplicate = await session.scalar(
            select(ScheduleExternal.schedule_id).where(
                ScheduleExternal.workspace_id == workspace_id,
                ScheduleExternal.provider == account.provider,
                ScheduleExternal.external_id == ref.external_id,
            )
        )
        if duplicate is not None:
            raise Conflict(
                f"{account.provider.value} post {ref.external_id} is already tracked by "
                f"schedule {duplicate}",
                code="already_tracked",
            )
        session.add(
            ScheduleExternal(
                **external_values(  # the same row a published post gets: due at once
                    schedule_id=schedule.id,
                    workspace_id=workspace_id,
                    account_id=account.id,
                    provider=account.provider,
                    external_id=ref.external_id,
                    url=str(ref.url) if ref.url else None,
                    published_at=published_at,
                    now=now,
                )
            )
        )
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("a post in this import is already tracked", code="already_tracked") from None
    return schedule


async def ensure_schedule(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> None:
    """NotFound unless the workspace has the schedule (one indexed read, nothing loaded)."""
    if await session.scalar(_SCHEDULE_EXISTS, {"id": schedule_id, "ws": workspace_id}) is None:
        raise NotFound(f"schedule {schedule_id} not found")


_SCHEDULE_EXISTS = select(Schedule.id).where(
    Schedule.id == bindparam("id"), Schedule.workspace_id == bindparam("ws")
)


async def list_externals(
    session: AsyncSession, *, workspace_id: uuid.UUID, schedule_id: uuid.UUID
) -> list[ScheduleExternal]:
    await ensure_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    rows = await session.scalars(
        select(ScheduleExternal)
        .where(ScheduleExternal.schedule_id == schedule_id)
        .order_by(ScheduleExternal.provider)
    )
    return list(rows)
