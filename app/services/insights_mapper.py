"""Pure mapping of raw platform payloads to our metric columns, and analytics over them.

Rule everywhere: a metric the platform did not report is ``None``, never 0. The one
exception is documented where it happens (Facebook ``shares``: Graph omits the field when the
count is 0, so it is 0 only when we fetched the post object and asked for it).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

MetaProvider = Literal["facebook", "instagram"]
LinkedInKind = Literal["organization", "member"]


@dataclass(frozen=True, slots=True)
class MetricValues:
    """One post's (or schedule's) metric columns; ``None`` = not reported."""

    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    video_views: int | None = None
    saves: int | None = None
    cost_cents: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        """Column name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ScheduleAnalytics:
    """Totals across providers plus derived rates (``None`` when not computable)."""

    totals: MetricValues
    engagement: int | None
    engagement_rate: float | None
    click_through_rate: float | None
    cost_per_engagement_cents: float | None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, Mapping):
        # Breakdown objects (reactions by type): the total is the sum of the parts.
        parts = [_int(v) for v in value.values()]
        return sum(p for p in parts if p is not None)
    return None


def _insights(payload: Mapping[str, Any], *edges: str) -> dict[str, Any]:
    """``name -> lifetime value`` from an expanded insights edge or a bare insights reply."""
    rows: list[Any] = []
    for edge in edges:
        container = payload.get(edge)
        if isinstance(container, Mapping) and isinstance(container.get("data"), list):
            rows.extend(container["data"])
    if not rows and isinstance(payload.get("data"), list):
        rows = payload["data"]
    out: dict[str, Any] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        values = row.get("values")
        if isinstance(values, list) and values and isinstance(values[-1], Mapping):
            out[row["name"]] = values[-1].get("value")
        elif "total_value" in row and isinstance(row["total_value"], Mapping):
            out[row["name"]] = row["total_value"].get("value")
    return out


def _summary_count(payload: Mapping[str, Any], edge: str) -> int | None:
    container = payload.get(edge)
    if isinstance(container, Mapping) and isinstance(container.get("summary"), Mapping):
        return _int(container["summary"].get("total_count"))
    return None


def _first(*values: Any) -> int | None:
    for value in values:
        if (number := _int(value)) is not None:
            return number
    return None


_FB_VIDEO_KINDS = {"video", "reel", "video_post", "added_video", "reels"}
_IG_VIDEO_TYPES = {"VIDEO", "REELS"}


def _map_facebook(payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
    raw_meta = payload.get("_postmeter")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    node = meta.get("node") or ("video" if "video_insights" in payload else "post")
    kind = str(media_type or meta.get("kind") or "").lower()
    metrics = _insights(payload, "insights", "video_insights")
    is_video = node == "video" or kind in _FB_VIDEO_KINDS
    likes = _first(
        metrics.get("post_reactions_by_type_total"),
        metrics.get("post_video_likes_by_reaction_type"),
        _summary_count(payload, "reactions"),
    )
    shares = payload.get("shares")
    if isinstance(shares, Mapping):
        shares_count = _int(shares.get("count"))
    else:
        # Graph omits ``shares`` at 0; we asked for it on post nodes, so absent means 0.
        shares_count = 0 if node == "post" and "id" in payload else None
    clicks = _first(metrics.get("post_clicks"), metrics.get("post_clicks_by_type"))
    return MetricValues(
        impressions=_first(metrics.get("post_media_view"), metrics.get("total_video_impressions")),
        reach=_first(
            metrics.get("post_total_media_view_unique"),
            metrics.get("total_video_impressions_unique"),
        ),
        likes=likes,
        comments=_summary_count(payload, "comments"),
        shares=shares_count,
        clicks=clicks,
        video_views=_first(
            metrics.get("post_video_views"),
            metrics.get("total_video_views"),
            metrics.get("blue_reels_play_count"),
            metrics.get("fb_reels_total_plays"),
        )
        if is_video
        else None,
        saves=None,
    )


def _map_instagram(payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
    metrics = _insights(payload, "insights")
    kind = (media_type or "").upper()
    types = {
        str(payload.get("media_type") or "").upper(),
        str(payload.get("media_product_type") or "").upper(),
        *kind.split("/"),
    }
    views = _int(metrics.get("views"))
    return MetricValues(
        impressions=views,
        reach=_int(metrics.get("reach")),
        likes=_first(metrics.get("likes"), payload.get("like_count")),
        comments=_first(metrics.get("comments"), payload.get("comments_count")),
        shares=_int(metrics.get("shares")),
        clicks=None,
        video_views=views if types & _IG_VIDEO_TYPES else None,
        saves=_int(metrics.get("saved")),
    )


def map_meta_to_post_metrics(
    provider: MetaProvider, payload: Mapping[str, Any], *, media_type: str | None
) -> MetricValues:
    """Map a Facebook post / Instagram media payload (as fetched) to metric columns.

    Facebook: impressions=post_media_view, reach=post_total_media_view_unique, likes=all
    reactions, comments/shares from the post's summaries, clicks=post_clicks,
    video_views=post_video_views (or video_insights plays) for videos only, saves=None.
    Instagram: impressions=views, reach, likes, comments, shares, saves=saved,
    video_views=views for VIDEO/REELS only, clicks=None.
    """
    if provider == "facebook":
        return _map_facebook(payload, media_type)
    return _map_instagram(payload, media_type)


_ORG_FIELDS = {
    "impressions": "impressionCount",
    "reach": "uniqueImpressionsCount",
    "likes": "likeCount",
    "comments": "commentCount",
    "shares": "shareCount",
    "clicks": "clickCount",
}
_MEMBER_FIELDS = {
    "impressions": "IMPRESSION",
    "reach": "MEMBERS_REACHED",
    "likes": "REACTION",
    "comments": "COMMENT",
    "shares": "RESHARE",
}


def map_linkedin_to_post_metrics(
    payload: Mapping[str, Any],
    *,
    kind: LinkedInKind,
    fields: Collection[str] | None = None,
) -> MetricValues:
    """Map LinkedIn statistics to metric columns.

    ``organization``: a share-statistics element (``totalShareStatistics``);
    ``member``: ``{"metrics": {"IMPRESSION": n, ...}}`` as combined by the fetcher.
    ``fields`` (from ``LINKEDIN_STATS_FIELDS``) limits the organization fields kept.
    """
    values: dict[str, int | None] = {}
    if kind == "organization":
        stats = payload.get("totalShareStatistics", payload)
        stats = stats if isinstance(stats, Mapping) else {}
        for column, name in _ORG_FIELDS.items():
            keep = fields is None or name in fields
            values[column] = _int(stats.get(name)) if keep else None
    else:
        metrics = payload.get("metrics", payload)
        metrics = metrics if isinstance(metrics, Mapping) else {}
        for column, name in _MEMBER_FIELDS.items():
            values[column] = _int(metrics.get(name))
    return MetricValues(**values)


def map_post_metrics(
    provider: str,
    payload: Mapping[str, Any],
    *,
    media_type: str | None,
    linkedin_fields: Collection[str] | None = None,
) -> MetricValues:
    """Any stored platform payload → metric columns (the fetch and `insights remap` share it).

    LinkedIn organization statistics carry ``totalShareStatistics``; member analytics do not.
    """
    if provider == "linkedin":
        kind: LinkedInKind = "organization" if "totalShareStatistics" in payload else "member"
        return map_linkedin_to_post_metrics(payload, kind=kind, fields=linkedin_fields)
    meta: MetaProvider = "facebook" if provider == "facebook" else "instagram"
    return map_meta_to_post_metrics(meta, payload, media_type=media_type)


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
        **{f.name: _sum([getattr(r, f.name) for r in rows]) for f in fields(MetricValues)}
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
    engagement is a small share; video views only for video media.
    """
    seed = hashlib.sha256(f"{provider}:{external_id}".encode()).digest()
    age = max(float(age_hours), 0.0)
    tau = 6.0 + 42.0 * _unit(seed, 0)  # hours to ~63 % of the lifetime total
    growth = 1.0 - math.exp(-age / tau)
    peak = 200.0 * math.exp(math.log(100.0) * _unit(seed, 1))  # 200 .. 20,000 views

    def curve(total: float) -> int:
        return int(total * growth)

    impressions_total = peak
    reach_total = peak * (0.55 + 0.3 * _unit(seed, 2))
    likes_total = peak * (0.01 + 0.05 * _unit(seed, 3))
    is_video = any(h in (media_type or "").upper() for h in _VIDEO_HINTS)
    return MetricValues(
        impressions=curve(impressions_total),
        reach=curve(reach_total),
        likes=curve(likes_total),
        comments=curve(likes_total * (0.05 + 0.15 * _unit(seed, 4))),
        shares=curve(likes_total * (0.02 + 0.13 * _unit(seed, 5))),
        clicks=None if provider == "instagram" else curve(peak * (0.005 + 0.025 * _unit(seed, 6))),
        video_views=curve(peak * (0.3 + 0.4 * _unit(seed, 7))) if is_video else None,
        saves=curve(likes_total * (0.05 + 0.15 * _unit(seed, 8)))
        if provider == "instagram"
        else None,
        cost_cents=None,
    )
