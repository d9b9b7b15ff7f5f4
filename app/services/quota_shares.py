"""Each workspace's share of a platform's app-wide quota (Meta's app budget, X-App-Usage).

Meta counts every call made with a *user* (or app) token of one app against one budget and
reports it as a percentage (`X-App-Usage`); page tokens fall under per-page business-use-case
limits instead. The refreshers count the app-scoped calls each workspace makes
(`app_quota_usage`, five-minute buckets, every process), and a workspace's usage of the budget
is taken as the app's percentage times its part of those calls. A workspace past its share
is paused alone (`meta:app:workspace:<id>`); the whole app (`meta:app`, which parks only
app-scoped accounts, never page tokens) only when an app-level refusal comes to a workspace
within its share while other workspaces are calling too. See docs/design/fair-quotas.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AccountStatus, AppQuotaUsage, Provider, SocialAccount
from app.services.insights_store import insert_for

# Meta's platform rate limit is a rolling hour; the buckets the calls are counted in.
APP_WINDOW = timedelta(hours=1)
BUCKET = timedelta(minutes=5)
# How long a workspace past its share waits before it is judged again (a bucket's worth of
# its calls has left the window by then).
SHARE_PAUSE = BUCKET
# An app usage reading older than this says nothing about now.
READING_MAX_AGE = timedelta(minutes=10)

META_PROVIDERS = (Provider.FACEBOOK, Provider.INSTAGRAM)


def share_key(app_key: str, workspace_id: uuid.UUID) -> str:
    """The throttle key of one workspace's share of the app-wide key `app_key`."""
    return f"{app_key}:workspace:{workspace_id}"


def bucket_of(moment: datetime) -> datetime:
    seconds = int(BUCKET.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, tz=moment.tzinfo)


@dataclass
class AppShares:
    """The app-wide usage and every workspace's calls in the window, as read at one time."""

    app_key: str
    fraction: float  # the setting: each workspace's least share of the budget (0..1]
    workspaces: int  # workspaces that can call the app (an active Meta account)
    app_percent: float = 0.0  # the app's usage now, percent of its budget
    calls: dict[uuid.UUID, int] = field(default_factory=dict)

    def add(self, workspace_id: uuid.UUID, calls: int, app_percent: float | None) -> None:
        """This refresh's own calls (not in the database yet)."""
        self.calls[workspace_id] = self.calls.get(workspace_id, 0) + calls
        if app_percent is not None:
            self.app_percent = app_percent  # the newest reading: the app's usage now

    @property
    def cap_percent(self) -> float:
        """Each workspace's share: the setting's fraction, or an equal part of the budget when
        that is more (one workspace alone may use it all)."""
        return 100.0 * max(self.fraction, 1.0 / max(1, self.workspaces))

    def used_by(self, workspace_id: uuid.UUID) -> float:
        """The part of the app's budget (percent) this workspace's calls account for."""
        total = sum(self.calls.values())
        if total <= 0:
            return 0.0
        return self.app_percent * self.calls.get(workspace_id, 0) / total

    def over_share(self, workspace_id: uuid.UUID) -> bool:
        return self.used_by(workspace_id) >= self.cap_percent

    def others_calling(self, workspace_id: uuid.UUID) -> bool:
        return any(n > 0 for ws, n in self.calls.items() if ws != workspace_id)

    def app_wide(self, workspace_id: uuid.UUID) -> bool:
        """Whether an app-level refusal to this workspace's call pauses the whole app: the
        usage is the app's (the workspace is within its share) and other workspaces are
        calling, so their calls would be refused too. Otherwise only this workspace waits."""
        return self.others_calling(workspace_id) and not self.over_share(workspace_id)


async def load_shares(
    session: AsyncSession, *, app_key: str, fraction: float, now: datetime
) -> AppShares:
    workspaces = await session.scalar(
        select(func.count(func.distinct(SocialAccount.workspace_id))).where(
            SocialAccount.provider.in_(META_PROVIDERS),
            SocialAccount.status != AccountStatus.DISABLED,
        )
    )
    shares = AppShares(app_key, fraction, int(workspaces or 0))
    rows = await session.execute(
        select(AppQuotaUsage.workspace_id, func.sum(AppQuotaUsage.calls))
        .where(AppQuotaUsage.key == app_key, AppQuotaUsage.bucket_start > now - APP_WINDOW)
        .group_by(AppQuotaUsage.workspace_id)
    )
    shares.calls = {ws: int(n or 0) for ws, n in rows}
    reading = await session.scalar(
        select(AppQuotaUsage.app_percent)
        .where(
            AppQuotaUsage.key == app_key,
            AppQuotaUsage.app_percent.is_not(None),
            AppQuotaUsage.reported_at >= now - READING_MAX_AGE,
        )
        .order_by(AppQuotaUsage.reported_at.desc())
        .limit(1)
    )
    shares.app_percent = float(reading or 0.0)
    return shares


async def record_calls(
    session: AsyncSession,
    *,
    app_key: str,
    calls: dict[uuid.UUID, tuple[int, float | None]],
    now: datetime,
) -> None:
    """Add this refresh's app-scoped calls per workspace to the current bucket (and drop the
    buckets past the window)."""
    if not calls:
        return
    stmt = insert_for(session)(AppQuotaUsage)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key", "workspace_id", "bucket_start"],
        set_={
            "calls": AppQuotaUsage.calls + stmt.excluded.calls,
            # A refresh the platform told no usage keeps the bucket's last reading.
            "app_percent": func.coalesce(stmt.excluded.app_percent, AppQuotaUsage.app_percent),
            "reported_at": case(
                (stmt.excluded.app_percent.is_(None), AppQuotaUsage.reported_at),
                else_=stmt.excluded.reported_at,
            ),
        },
    )
    bucket = bucket_of(now)
    await session.execute(
        stmt,
        [
            {
                "key": app_key,
                "workspace_id": ws,
                "bucket_start": bucket,
                "calls": n,
                "app_percent": percent,
                "reported_at": now,
            }
            for ws, (n, percent) in sorted(calls.items())
        ],
    )
    await session.execute(
        delete(AppQuotaUsage).where(AppQuotaUsage.bucket_start <= now - APP_WINDOW - BUCKET)
    )
