"""Connected social accounts: create, read, update, delete, with tokens encrypted at rest."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound
from app.core.security import TokenCipher
from app.models import AccountStatus, ExternalStatus, Provider, ScheduleExternal, SocialAccount
from app.models.base import utcnow
from app.schemas.accounts import AccountCreate, AccountOut, AccountUpdate
from app.schemas.common import Page, encode_cursor

# A token this close to its expiry makes its account `expiring`.
EXPIRING_WITHIN = timedelta(days=7)
# What only an event can tell, so it is stored: the platform refused the token, or the user
# disabled the account. Everything else about an account's health is told by the clock (its
# token's expiry) and is computed when read, so it changes as time passes without a write.
STORED_STATUSES = (AccountStatus.DISABLED, AccountStatus.RECONNECT_REQUIRED)


def status_for_expiry(expires_at: datetime | None, *, now: datetime) -> AccountStatus:
    """Token health from its expiry: expired → reconnect, soon → expiring."""
    if expires_at is None:
        return AccountStatus.ACTIVE
    if expires_at <= now:
        return AccountStatus.RECONNECT_REQUIRED
    if expires_at - now <= EXPIRING_WITHIN:
        return AccountStatus.EXPIRING
    return AccountStatus.ACTIVE


def account_status(
    stored: AccountStatus, token_expires_at: datetime | None, *, now: datetime
) -> AccountStatus:
    """The status an account has at `now`: the stored one when an event set it, else its
    token's health. `status_is` is the same rule in SQL."""
    if stored in STORED_STATUSES:
        return stored
    return status_for_expiry(token_expires_at, now=now)


def status_is(status: AccountStatus, *, now: datetime) -> ColumnElement[bool]:
    """SQL for "the account's status at `now` is `status`" (as `account_status` says)."""
    stored, expires = SocialAccount.status, SocialAccount.token_expires_at
    if status in STORED_STATUSES:
        by_event = stored == status
        if status == AccountStatus.DISABLED:
            return by_event
        return by_event | (stored.not_in(STORED_STATUSES) & (expires <= now))
    by_clock = stored.not_in(STORED_STATUSES)
    soon = now + EXPIRING_WITHIN
    if status == AccountStatus.EXPIRING:
        return by_clock & (expires > now) & (expires <= soon)
    return by_clock & (expires.is_(None) | (expires > soon))


def to_out(account: SocialAccount, *, now: datetime | None = None) -> AccountOut:
    return AccountOut(
        id=account.id,
        provider=account.provider,
        external_id=account.external_id,
        name=account.name,
        status=account_status(account.status, account.token_expires_at, now=now or utcnow()),
        token_expires_at=account.token_expires_at,
        has_refresh_token=account.refresh_token_enc is not None,
        last_error=account.last_error,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


async def create_account(
    session: AsyncSession, *, workspace_id: uuid.UUID, data: AccountCreate, cipher: TokenCipher
) -> SocialAccount:
    account = SocialAccount(
        workspace_id=workspace_id,
        provider=data.provider,
        external_id=data.external_id,
        name=data.name,
        access_token_enc=cipher.encrypt(data.access_token.get_secret_value()),
        refresh_token_enc=(
            cipher.encrypt(data.refresh_token.get_secret_value()) if data.refresh_token else None
        ),
        token_expires_at=data.token_expires_at,
        refresh_token_expires_at=data.refresh_token_expires_at,
        status=AccountStatus.ACTIVE,
    )
    try:
        async with session.begin_nested():
            session.add(account)
            await session.flush()
    except IntegrityError:
        # Only the unique (workspace, provider, external id) makes it `account_exists`; any
        # other integrity failure (the workspace gone meanwhile) is not the caller's duplicate.
        existing = await session.scalar(
            select(SocialAccount.id).where(
                SocialAccount.workspace_id == workspace_id,
                SocialAccount.provider == data.provider,
                SocialAccount.external_id == data.external_id,
            )
        )
        if existing is None:
            raise
        raise Conflict(
            f"{data.provider.value} account {data.external_id} is already connected",
            code="account_exists",
        ) from None
    return account


async def get_account(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> SocialAccount:
    account = await session.get(SocialAccount, account_id)
    if account is None or account.workspace_id != workspace_id:
        raise NotFound(f"account {account_id} not found")
    return account


async def list_accounts(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    limit: int,
    after: uuid.UUID | None,
    provider: Provider | None = None,
    status: AccountStatus | None = None,
) -> Page[AccountOut]:
    stmt = select(SocialAccount).where(SocialAccount.workspace_id == workspace_id)
    if provider is not None:
        stmt = stmt.where(SocialAccount.provider == provider)
    now = utcnow()
    if status is not None:
        stmt = stmt.where(status_is(status, now=now))
    if after is not None:
        stmt = stmt.where(SocialAccount.id < after)
    rows = list(await session.scalars(stmt.order_by(SocialAccount.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[to_out(r, now=now) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


async def update_account(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    data: AccountUpdate,
    cipher: TokenCipher,
) -> SocialAccount:
    account = await get_account(session, workspace_id=workspace_id, account_id=account_id)
    fields = data.model_fields_set
    if data.name is not None:
        account.name = data.name
    if data.access_token is not None:
        # A new token is a reconnect: health starts over from its expiry.
        account.access_token_enc = cipher.encrypt(data.access_token.get_secret_value())
        account.token_expires_at = data.token_expires_at
        account.status = AccountStatus.ACTIVE
        account.last_error = None
    elif "token_expires_at" in fields:
        account.token_expires_at = data.token_expires_at
    if data.refresh_token is not None:
        account.refresh_token_enc = cipher.encrypt(data.refresh_token.get_secret_value())
    if data.status is not None:
        account.status = data.status  # active (re-enabled) or disabled: schemas allow no other
    now = utcnow()
    account.updated_at = now
    healthy = account_status(account.status, account.token_expires_at, now=now) in (
        AccountStatus.ACTIVE,
        AccountStatus.EXPIRING,
    )
    if healthy and (data.access_token is not None or data.status == AccountStatus.ACTIVE):
        await resume_polling(session, account_id=account.id)
    await session.flush()
    return account


async def resume_polling(session: AsyncSession, *, account_id: uuid.UUID) -> None:
    """A reconnected or re-enabled account's live posts are due again at once."""
    await session.execute(
        update(ScheduleExternal)
        .where(
            ScheduleExternal.account_id == account_id,
            ScheduleExternal.status == ExternalStatus.LIVE,
        )
        .values(
            next_fetch_at=utcnow(),
            consecutive_failures=0,
            last_error_kind=None,
            last_error=None,
        )
    )


async def delete_account(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    account = await get_account(session, workspace_id=workspace_id, account_id=account_id)
    await session.delete(account)
    await session.flush()


async def reencrypt_all_tokens(session: AsyncSession, *, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token under the newest key; returns how many rows changed."""
    changed = 0
    rows = await session.scalars(select(SocialAccount))
    for account in rows:
        if not cipher.is_current(account.access_token_enc):
            account.access_token_enc = cipher.rotate(account.access_token_enc)
            changed += 1
        if account.refresh_token_enc and not cipher.is_current(account.refresh_token_enc):
            account.refresh_token_enc = cipher.rotate(account.refresh_token_enc)
            changed += 1
    await session.flush()
    return changed
