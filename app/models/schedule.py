"""Scheduled posts and the accounts each one targets (at most one per provider)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin, new_id, str_enum
from app.models.enums import Provider, ScheduleStatus


class Schedule(TimestampMixin, Base):
    __tablename__ = "schedules"
    __table_args__ = (
        Index(None, "workspace_id", "status", "publish_at"),
        Index(None, "status", "publish_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    status: Mapped[ScheduleStatus] = mapped_column(
        str_enum(ScheduleStatus, "schedule_status"), default=ScheduleStatus.DRAFT
    )
    last_error: Mapped[str | None] = mapped_column(Text)

    targets: Mapped[list[ScheduleTarget]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    def content(self) -> dict[str, Any]:
        return {"text": self.text, "link": self.link, "media_urls": list(self.media_urls or [])}


class ScheduleTarget(Base):
    __tablename__ = "schedule_targets"
    __table_args__ = (UniqueConstraint("schedule_id", "provider"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"))
