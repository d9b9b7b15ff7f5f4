"""State the poller shares across workers: throttled keys and metrics a platform rejected."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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


class MetricRejection(Base):
    """A metric the platform refused for (provider, API version, media type): never sent again."""

    __tablename__ = "metric_rejections"

    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"), primary_key=True)
    api_version: Mapped[str] = mapped_column(String(16), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
