"""`schedule_metrics`: analytics computed from the latest snapshot of each provider."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.metric_columns import MetricColumns


class ScheduleMetrics(MetricColumns, Base):
    __tablename__ = "schedule_metrics"

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    # The metric totals come from MetricColumns (one per `app.core.metrics` field).
    engagement: Mapped[int | None] = mapped_column(BigInteger)
    engagement_rate: Mapped[float | None] = mapped_column(Float)
    click_through_rate: Mapped[float | None] = mapped_column(Float)
    cost_per_engagement_cents: Mapped[float | None] = mapped_column(Float)
    providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    includes_fake: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime]
