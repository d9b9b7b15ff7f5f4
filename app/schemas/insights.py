"""Insights API schemas.

The metric fields of `MetricsOut` and `TotalsOut` are made from the one declaration
(`app.core.metrics`), descriptions included, so a new metric reaches the API by itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, StrictBool, create_model

from app.core.metrics import METRIC_DESCRIPTIONS, METRIC_FIELDS
from app.models.enums import ErrorKind, MetricsSource, Provider
from app.schemas.common import InputModel


def _metric_fields(*, required: bool) -> dict[str, Any]:
    """Pydantic field definitions, one per metric (null = not reported)."""
    return {
        name: (
            int | None,
            Field(... if required else None, description=METRIC_DESCRIPTIONS[name]),
        )
        for name in METRIC_FIELDS
    }


# Type checkers see plain models (the fields exist only at run time; typed access to metric
# values goes through `app.core.metrics.MetricValues`).
if TYPE_CHECKING:
    _ReportedMetrics = BaseModel
    _MetricTotals = BaseModel
else:
    _ReportedMetrics = create_model("_ReportedMetrics", **_metric_fields(required=True))
    _MetricTotals = create_model("_MetricTotals", **_metric_fields(required=False))


class FetchRequest(InputModel):
    # Strict: a JSON boolean, as the schema says (lax validation took 0, 1 and "true").
    force_refresh: StrictBool = Field(
        default=False,
        description="Call the platform even when a snapshot younger than "
        "INSIGHTS_FRESH_SECONDS exists.",
    )


class ProviderFetchResult(BaseModel):
    provider: Provider
    status: Literal["fetched", "fresh", "error"]
    error_kind: ErrorKind | None = Field(
        default=None, description="Why the fetch failed (null when it did not)."
    )
    message: str | None = None
    retry_at: datetime | None = None
    fetched_at: datetime | None = None
    source: MetricsSource | None = Field(
        default=None, description="`fake` when FEATURE_FAKE_INSIGHTS generated the values."
    )


class FetchResponse(BaseModel):
    schedule_id: uuid.UUID
    results: list[ProviderFetchResult]


class MetricsOut(_ReportedMetrics):
    """One snapshot: the metric fields plus where and when they were read."""

    provider: Provider
    fetched_at: datetime = Field(description="When these values were read from the platform.")
    bucket_start: datetime = Field(description="The snapshot bucket this row belongs to.")
    source: MetricsSource = Field(description="`fake` rows are generated, not real.")
    stale: bool = Field(description="The latest fetch failed, or the values are overdue.")
    api_version: str | None
    media_type: str | None


class TotalsOut(_MetricTotals):
    """The metric fields summed across providers (null where none reported), and rates."""

    engagement: int | None = None
    engagement_rate: float | None = None
    click_through_rate: float | None = None
    cost_per_engagement_cents: float | None = None
    includes_fake: bool = False
    computed_at: datetime | None = None


class ScheduleMetricsOut(BaseModel):
    schedule_id: uuid.UUID
    metrics: list[MetricsOut]
    totals: TotalsOut


class HistoryOut(BaseModel):
    items: list[MetricsOut]
    next_cursor: str | None


class ThrottledKey(BaseModel):
    key: str
    provider: Provider
    until: datetime
    reason: str | None


class AccountAttention(BaseModel):
    id: uuid.UUID
    provider: Provider
    name: str
    status: str
    last_error: str | None


class PublishingCounts(BaseModel):
    due: int = Field(description="Scheduled posts whose time has come, not yet picked up.")
    publishing: int = Field(description="Targets on their way to the platform.")
    failed_24h: int = Field(description="Targets that failed in the last 24 hours.")
    unknown: int = Field(
        description="Targets whose outcome could not be settled (they may be live; never "
        "retried automatically)."
    )


class SummaryOut(BaseModel):
    computed_at: datetime = Field(
        description="When these figures were computed: a workspace's summary is computed at "
        "most once every INSIGHTS_SUMMARY_CACHE_SECONDS (default 5) per API process."
    )
    posts_tracked: int
    due_now: int
    fetched_last_24h: int
    errors_by_kind: dict[ErrorKind, int] = Field(
        description="Tracked posts whose last fetch failed, by why."
    )
    accounts_needing_reconnection: list[AccountAttention]
    throttled: list[ThrottledKey]
    publishing: PublishingCounts
