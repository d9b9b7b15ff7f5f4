"""`post_metrics`: raw metric snapshots, one row per (schedule, provider, snapshot bucket).

Every metric is nullable: null means the platform did not report it, never 0 in its place.
The raw platform response is kept beside the mapped values so a corrected mapping can be
replayed over history (`postmeter insights remap`) without refetching.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.metrics import METRIC_FIELDS
from app.models.base import Base, str_enum
from app.models.enums import MetricsSource, Provider
from app.models.metric_columns import MetricColumns

__all__ = ["METRIC_FIELDS", "PostMetrics"]

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
RawJSON = JSON().with_variant(JSONB(), "postgresql")


class PostMetrics(MetricColumns, Base):
    __tablename__ = "post_metrics"
    __table_args__ = (
        # Doubles as the "latest per schedule and provider" index (scan backwards).
        UniqueConstraint("schedule_id", "provider", "fetched_at"),
        # History of a schedule over a time range, across providers.
        Index(None, "schedule_id", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, "provider"))
    # Despite its name, the bucket start: the API shows it as `bucket_start`, and shows
    # `captured_at` as `fetched_at`.
    fetched_at: Mapped[datetime] = mapped_column(
        doc="Start of the snapshot bucket (INSIGHTS_SNAPSHOT_BUCKET_HOURS); the upsert key."
    )
    captured_at: Mapped[datetime] = mapped_column(
        doc="When the values in this row were actually read from the platform."
    )
    # The metric columns come from MetricColumns (one per `app.core.metrics` field).
    source: Mapped[MetricsSource] = mapped_column(str_enum(MetricsSource, "metrics_source"))
    api_version: Mapped[str | None] = mapped_column(String(16))
    media_type: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any] | None] = mapped_column(RawJSON)
