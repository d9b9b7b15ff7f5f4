"""`publish_attempts`: the durable log of every try to create a target's post.

An attempt row exists before any platform call; its `phase` moves forward by compare-and-set
updates only (`app.services.publishing`), so two executions of one step can never both reach
the irreversible call, and what happened is readable afterwards (`GET .../attempts`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, new_id, str_enum, utcnow
from app.models.enums import AttemptPhase, ErrorKind, SettledBy


class PublishAttempt(Base):
    __tablename__ = "publish_attempts"
    __table_args__ = (UniqueConstraint("target_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedule_targets.id", ondelete="CASCADE")
    )
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    phase: Mapped[AttemptPhase] = mapped_column(
        str_enum(AttemptPhase, "attempt_phase"), default=AttemptPhase.PREPARING
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written in the same transaction that moves the attempt to `calling` (the intent).
    call_started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The publisher's redo-safe preparation (container ids, uploaded media), JSON-safe.
    prepared: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(255))
    error_kind: Mapped[ErrorKind | None] = mapped_column(
        str_enum(ErrorKind, "error_kind", check=False)
    )
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    settled_by: Mapped[SettledBy | None] = mapped_column(str_enum(SettledBy, "settled_by"))
    # The DBOS executor that ran it (which worker to look at).
    worker: Mapped[str | None] = mapped_column(String(100))
