"""Insights API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.models.enums import MetricsSource, Provider
from app.schemas.common import InputModel


class FetchRequest(InputModel):
    force_refresh: bool = Field(
        default=False,
        description="Call the platform even when a snapshot younger than "
        "INSIGHTS_FRESH_SECONDS exists.",
    )


class ProviderFetchResult(BaseModel):
    provider: Provider
    status: Literal["fetched", "fresh", "error"]
    error_kind: str | None = Field(
        default=None,
        description="token_expired, reconnect_required, deleted, throttled, permission, "
        "transient, no_data, rejected, account_disconnected",
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


class MetricsOut(BaseModel):
    provider: Provider
    fetched_at: datetime = Field(description="When these values were read from the platform.")
    bucket_start: datetime = Field(description="The snapshot bucket this row belongs to.")
    source: MetricsSource = Field(description="`fake` rows are generated, not real.")
    stale: bool = Field(description="The latest fetch failed, or the values are overdue.")
    impressions: int | None
    reach: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    clicks: int | None
    video_views: int | None
    saves: int | None
    cost_cents: int | None
    api_version: str | None
    media_type: str | None


class TotalsOut(BaseModel):
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    video_views: int | None = None
    saves: int | None = None
    cost_cents: int | None = None
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


class SummaryOut(BaseModel):
    posts_tracked: int
    due_now: int
    fetched_last_24h: int
    errors_by_kind: dict[str, int]
    accounts_needing_reconnection: list[AccountAttention]
    throttled: list[ThrottledKey]
