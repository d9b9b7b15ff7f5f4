"""`schedule_metrics`: analytics computed from the latest snapshot of each provider."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ScheduleMetrics(Base):
    __tablename__ = "schedule_metrics"

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    reach: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    video_views: Mapped[int | None] = mapped_column(BigInteger)
    saves: Mapped[int | None] = mapped_column(BigInteger)
    cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    engagement: Mapped[int | None] = mapped_column(BigInteger)
    engagement_rate: Mapped[float | None] = mapped_column(Float)
    click_through_rate: Mapped[float | None] = mapped_column(Float)
    cost_per_engagement_cents: Mapped[float | None] = mapped_column(Float)
    providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    includes_fake: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime]
