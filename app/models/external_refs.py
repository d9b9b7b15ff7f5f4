"""`schedule_external`: the platform posts a schedule became (or was imported as)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, new_id, str_enum
from app.models.enums import ErrorKind, ExternalStatus, Provider


class ScheduleExternal(TimestampMixin, Base):
    __tablename__ = "schedule_external"
    __table_args__ = (
        UniqueConstraint("schedule_id", "provider"),
        Index(None, "provider", "external_id"),
        # The poller's "what is due" scan.
        Index(None, "status", "next_fetch_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="SET NULL"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    published_at: Mapped[datetime | None]
    status: Mapped[ExternalStatus] = mapped_column(
        str_enum(ExternalStatus, "external_status"), default=ExternalStatus.LIVE
    )
    # Poll state: when the next fetch is due, what the platform says the media is.
    media_type: Mapped[str | None] = mapped_column(String(64))
    next_fetch_at: Mapped[datetime | None]
    last_fetched_at: Mapped[datetime | None]
    # Why the last fetch failed (null after a success). No CHECK constraint on the values, so
    # that adding an ErrorKind needs no migration; SQLAlchemy still refuses unknown strings.
    last_error_kind: Mapped[ErrorKind | None] = mapped_column(
        str_enum(ErrorKind, "error_kind", check=False)
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
