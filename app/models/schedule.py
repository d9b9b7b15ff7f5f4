"""Scheduled posts and the accounts each one targets (at most one per provider)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin, new_id, str_enum, utcnow
from app.models.enums import ErrorKind, Provider, ScheduleStatus, TargetState


class Schedule(TimestampMixin, Base):
    __tablename__ = "schedules"
    __table_args__ = (
        Index(None, "workspace_id", "status", "publish_at"),
        Index(None, "status", "publish_at"),
        # The listing's order (newest id first within a workspace): GET /api/v1/schedules reads
        # one page off this index instead of sorting every schedule of the workspace (212 ms at
        # 100,000 on SQLite; issue 10). Also serves every lookup by workspace_id alone.
        Index(None, "workspace_id", "id"),
        # The listing filtered by status, in the same order: with no match, the index above
        # walked every schedule of the workspace looking for one (39 ms at 100,000 on SQLite).
        Index(None, "workspace_id", "status", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    status: Mapped[ScheduleStatus] = mapped_column(
        str_enum(ScheduleStatus, "schedule_status"), default=ScheduleStatus.DRAFT
    )
    last_error: Mapped[str | None] = mapped_column(Text)

    # In creation order (ids are time-ordered), as the listing shows them.
    targets: Mapped[list[ScheduleTarget]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ScheduleTarget.id",
    )

    def content(self) -> dict[str, Any]:
        return {"text": self.text, "link": self.link, "media_urls": list(self.media_urls or [])}


class ScheduleTarget(Base):
    """One account a schedule publishes to, and where that publish stands.

    `state` changes only by compare-and-set updates in `app.services.publishing`; the current
    attempt (`attempt_number`) is the only one that may call the platform.
    """

    __tablename__ = "schedule_targets"
    __table_args__ = (
        UniqueConstraint("schedule_id", "provider"),
        # The engine's scans: targets to start, and unsettled ones past their bound.
        Index(None, "state", "settle_by"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"))
    state: Mapped[TargetState] = mapped_column(
        str_enum(TargetState, "target_state"),
        default=TargetState.PENDING,
        server_default=TargetState.PENDING.value,
    )
    external_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    error_kind: Mapped[ErrorKind | None] = mapped_column(
        str_enum(ErrorKind, "error_kind", check=False)
    )
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    # When an unfinished attempt must be settled (reconciled or given up) by the sweep.
    settle_by: Mapped[datetime | None]
    # The attempt allowed to run now; earlier numbers are history.
    attempt_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Attempts made automatically since the last claim or retry (bounded by a setting).
    attempts_in_run: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Transient failures are retried until then (PUBLISH_RETRY_DEADLINE from the claim).
    retry_until: Mapped[datetime | None]
