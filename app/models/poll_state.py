"""State the poller shares across workers: throttled keys and metrics a platform rejected."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, str_enum
from app.models.enums import Provider


class ThrottleState(Base):
    """A rate-limit key (Meta app, page, LinkedIn token) paused until `throttled_until`."""

    __tablename__ = "throttle_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"))
    throttled_until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AppQuotaUsage(Base):
    """Calls counted against a platform's app-wide quota (Meta's X-App-Usage), per workspace
    and five-minute bucket, by every process: what each workspace's share of the app budget is
    judged on (see docs/design/fair-quotas.md). Rows older than the platform's window go."""

    __tablename__ = "app_quota_usage"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "meta:app"
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    # The latest app-wide usage (percent of the app's quota) the platform reported to these
    # calls, and when: the app's usage, not the workspace's.
    app_percent: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime]


class MetricRejection(Base):
    """A metric the platform refused for (provider, API version, media type): never sent again."""

    __tablename__ = "metric_rejections"

    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"), primary_key=True)
    api_version: Mapped[str] = mapped_column(String(16), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
