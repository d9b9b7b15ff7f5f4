"""Platform payloads -> metric values (delegating to each platform's home), and analytics.

What a payload means is each platform's knowledge (`app.integrations.platforms`); this module
keeps the names the product's design gives and the analytics over mapped values.
Rule everywhere: a metric the platform did not report is ``None``, never 0.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.core.metrics import METRIC_FIELDS, MetricValues
from app.integrations.platforms import platform_for
from app.integrations.platforms.linkedin import LinkedInKind, map_linkedin_metrics

__all__ = [
    "LinkedInKind",
    "MetaProvider",
    "MetricValues",
    "ScheduleAnalytics",
    "compute_schedule_analytics",
    "generate_fake_metrics",
    "map_linkedin_to_post_metrics",
    "map_meta_to_post_metrics",
    "map_post_metrics",
]

MetaProvider = Literal["facebook", "instagram"]


@dataclass(frozen=True, slots=True)
class ScheduleAnalytics:
    """Totals across providers plus derived rates (``None`` when not computable)."""

    totals: MetricValues
    engagement: int | None
    engagement_rate: float | None
    click_through_rate: float | None
    cost_per_engagement_cents: float | None


def map_meta_to_post_metrics(
    provider: MetaProvider, payload: Mapping[str, Any], *, media_type: str | None
) -> MetricValues:
    """Map a Facebook post / Instagram media payload (as fetched) to metric values (the
    platform homes document each field's source)."""
    return platform_for(provider).map_metrics(payload, media_type=media_type)


def map_linkedin_to_post_metrics(
    payload: Mapping[str, Any],
    *,
    kind: LinkedInKind,
    fields: Collection[str] | None = None,
) -> MetricValues:
    """Map LinkedIn statistics to metric values.

    ``organization``: a share-statistics element (``totalShareStatistics``);
    ``member``: ``{"metrics": {"IMPRESSION": n, ...}}`` as combined by the fetcher.
    ``fields`` (from ``LINKEDIN_STATS_FIELDS``) limits the organization fields kept.
    """
    return map_linkedin_metrics(payload, kind=kind, fields=fields)


def map_post_metrics(
    provider: str,
    payload: Mapping[str, Any],
    *,
    media_type: str | None,
    linkedin_fields: Collection[str] | None = None,
) -> MetricValues:
    """Any stored platform payload -> metric values (the fetch and `insights remap` share it)."""
    # Only LinkedIn's mapping is limited by fields; the others ignore them.
    return platform_for(provider).map_metrics(
        payload, media_type=media_type, fields=linkedin_fields
    )


def _sum(values: Sequence[int | None]) -> int | None:
    reported = [v for v in values if v is not None]
    return sum(reported) if reported else None


def compute_schedule_analytics(rows: Sequence[MetricValues]) -> ScheduleAnalytics:
    """Totals across providers (``None`` where no provider reported) and derived rates.

    engagement = likes + comments + shares + saves + clicks (of those reported);
    engagement_rate = engagement / reach, or / impressions when reach is unknown;
    click_through_rate = clicks / impressions; cost per engagement when cost is known.
    A missing or zero denominator gives ``None``.
    """
    totals = MetricValues(
        **{name: _sum([getattr(r, name) for r in rows]) for name in METRIC_FIELDS}
    )
    engagement = _sum([totals.likes, totals.comments, totals.shares, totals.saves, totals.clicks])
    denominator = totals.reach if totals.reach is not None else totals.impressions
    engagement_rate = engagement / denominator if engagement is not None and denominator else None
    ctr = (
        totals.clicks / totals.impressions
        if totals.clicks is not None and totals.impressions
        else None
    )
    cpe = totals.cost_cents / engagement if totals.cost_cents is not None and engagement else None
    return ScheduleAnalytics(totals, engagement, engagement_rate, ctr, cpe)


# --- fake metrics for development --------------------------------------------------------

_VIDEO_HINTS = ("VIDEO", "REEL")


def _unit(seed: bytes, index: int) -> float:
    """A deterministic number in [0, 1) from two bytes of the seed."""
    return int.from_bytes(seed[2 * index : 2 * index + 2], "big") / 65536.0


def generate_fake_metrics(
    provider: str, external_id: str, age_hours: float, *, media_type: str | None = None
) -> MetricValues:
    """Deterministic, plausible metrics for development (``FEATURE_FAKE_INSIGHTS``).

    Seeded by a hash of (provider, external_id); every column follows the saturating curve
    ``peak * (1 - exp(-age / tau))`` so values never decrease with age. Reach <= impressions;
    engagement is a small share; video views only for video media. Only the metrics the
    platform reports (its home's `reported_metrics`) get a value, as a real fetch would.
    """
    reported = platform_for(provider).reported_metrics
    seed = hashlib.sha256(f"{provider}:{external_id}".encode()).digest()
    age = max(float(age_hours), 0.0)
    tau = 6.0 + 42.0 * _unit(seed, 0)  # hours to ~63 % of the lifetime total
    growth = 1.0 - math.exp(-age / tau)
    peak = 200.0 * math.exp(math.log(100.0) * _unit(seed, 1))  # 200 .. 20,000 views
    likes_total = peak * (0.01 + 0.05 * _unit(seed, 3))
    is_video = any(h in (media_type or "").upper() for h in _VIDEO_HINTS)
    totals = {
        "impressions": peak,
        "reach": peak * (0.55 + 0.3 * _unit(seed, 2)),
        "likes": likes_total,
        "comments": likes_total * (0.05 + 0.15 * _unit(seed, 4)),
        "shares": likes_total * (0.02 + 0.13 * _unit(seed, 5)),
        "clicks": peak * (0.005 + 0.025 * _unit(seed, 6)),
        "video_views": peak * (0.3 + 0.4 * _unit(seed, 7)) if is_video else None,
        "saves": likes_total * (0.05 + 0.15 * _unit(seed, 8)),
    }
    return MetricValues(
        **{
            name: int(total * growth)
            for name, total in totals.items()
            if total is not None and name in reported
        }
    )
