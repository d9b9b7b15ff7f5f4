"""Connect a running sandbox's demo accounts to a workspace and track every demo post.

Shared by `postmeter demo` and `postmeter sandbox --connect`. It goes through the account and
schedule services, as the API does, so what it connects behaves like any connected account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import NotFound
from app.core.security import TokenCipher
from app.models import Provider, ScheduleExternal, SocialAccount, Workspace
from app.models.base import utcnow
from app.sandbox.client import PostPlatform, SandboxControl
from app.schemas.accounts import AccountCreate, AccountUpdate
from app.schemas.schedules import ImportRef, ScheduleImport
from app.services.accounts import create_account, update_account
from app.services.schedules import import_schedule


class NoDemoWorld(Exception):
    """The sandbox was started without `--seed demo`: it has no accounts to connect."""


@dataclass(frozen=True)
class SandboxAccount:
    provider: Provider
    external_id: str
    name: str
    token: str
    owner_id: str  # the sandbox's owner id for `GET /_sandbox/posts`
    platform: PostPlatform


@dataclass(frozen=True)
class TrackedPost:
    schedule_id: uuid.UUID
    external_id: str
    product_type: str
    created_at: float  # sandbox time (epoch seconds)


def sandbox_accounts(world: dict[str, Any]) -> list[SandboxAccount]:
    """The demo world's four accounts: a Page, its Instagram account, a LinkedIn organization
    and a LinkedIn member."""
    d = world.get("demo") or {}
    if not d:
        raise NoDemoWorld("the sandbox has no demo world: start it with `--seed demo`")
    fb, ig, li = Provider.FACEBOOK, Provider.INSTAGRAM, Provider.LINKEDIN
    return [
        SandboxAccount(fb, d["page_id"], "Demo Page", d["page_token"], d["page_id"], "facebook"),
        SandboxAccount(
            ig, d["ig_user_id"], "Demo Instagram", d["page_token"], d["ig_user_id"], "instagram"
        ),
        SandboxAccount(
            li, d["org_urn"], "Demo Organization", d["org_admin_token"], d["org_id"], "linkedin"
        ),
        SandboxAccount(
            li, d["member_urn"], "Demo Creator", d["member_token"], d["member_id"], "linkedin"
        ),
    ]


async def connect_sandbox(
    session: AsyncSession, *, cipher: TokenCipher, workspace_id: uuid.UUID, ctl: SandboxControl
) -> list[TrackedPost]:
    """Connect (or reconnect, with current tokens) the demo accounts in `workspace_id` and
    import every live demo post not yet tracked there; returns every demo post's schedule.
    Flushes only: the caller commits."""
    if await session.get(Workspace, workspace_id) is None:
        raise NotFound(f"workspace {workspace_id} not found")
    world = await ctl.world()
    tracked: list[TrackedPost] = []
    for spec in sandbox_accounts(world):
        account = await _upsert_account(session, cipher, workspace_id, spec)
        posts = await ctl.list_posts(owner_id=spec.owner_id, platform=spec.platform)
        tracked += await _track(session, workspace_id, account, posts)
    return tracked


def growing_post(posts: list[TrackedPost]) -> TrackedPost | None:
    """The post whose numbers grow the most visibly: the youngest, leaving out stories (they
    stop growing after 24 h)."""
    candidates = [p for p in posts if p.product_type != "STORY"]
    return max(candidates, key=lambda p: p.created_at, default=None)


def settings_mismatch(settings: Settings, env: dict[str, str]) -> list[str]:
    """The names of the sandbox settings that `settings` does not match."""
    current = {
        "META_GRAPH_API_BASE": settings.META_GRAPH_API_BASE,
        "LINKEDIN_API_BASE": settings.LINKEDIN_API_BASE,
        "META_APP_SECRET": settings.META_APP_SECRET.get_secret_value()
        if settings.META_APP_SECRET
        else None,
    }
    return [name for name, value in current.items() if name in env and env[name] != value]


async def _upsert_account(
    session: AsyncSession, cipher: TokenCipher, workspace_id: uuid.UUID, spec: SandboxAccount
) -> SocialAccount:
    """Connect the account, or reconnect it with its current token (as the API does: a
    reconnected account's posts are due again at once)."""
    token = SecretStr(spec.token)
    account = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.workspace_id == workspace_id,
            SocialAccount.provider == spec.provider,
            SocialAccount.external_id == spec.external_id,
        )
    )
    if account is None:
        data = AccountCreate(
            provider=spec.provider, external_id=spec.external_id, name=spec.name, access_token=token
        )
        return await create_account(session, workspace_id=workspace_id, data=data, cipher=cipher)
    return await update_account(
        session,
        workspace_id=workspace_id,
        account_id=account.id,
        data=AccountUpdate(access_token=token),
        cipher=cipher,
    )


async def _track(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    account: SocialAccount,
    posts: list[dict[str, Any]],
) -> list[TrackedPost]:
    rows = await session.execute(
        select(ScheduleExternal.external_id, ScheduleExternal.schedule_id).where(
            ScheduleExternal.account_id == account.id
        )
    )
    schedule_of: dict[str, uuid.UUID] = dict(rows.tuples().all())
    out = []
    now = utcnow()
    for post in posts:
        schedule_id = schedule_of.get(post["id"])
        if schedule_id is None:
            # Sandbox time may run ahead of ours (a fast demo clock): never import a future post.
            published = min(datetime.fromtimestamp(post["created_at"], UTC), now)
            data = ScheduleImport(
                published_at=published,
                refs=[ImportRef(account_id=account.id, external_id=post["id"])],
            )
            schedule_id = (await import_schedule(session, workspace_id=workspace_id, data=data)).id
        out.append(TrackedPost(schedule_id, post["id"], post["product_type"], post["created_at"]))
    return out
