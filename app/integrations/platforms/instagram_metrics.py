"""Instagram's insights metric names: which are valid per media product type, and how the
``IG_INSIGHTS_METRICS`` setting is translated (retired names included)."""

from __future__ import annotations

from collections.abc import Sequence

from app.integrations.platforms.metric_names import MetricNames

IG_METRICS_BY_PRODUCT: dict[str, tuple[str, ...]] = {
    "FEED": (
        "views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
        "profile_visits", "follows",
    ),
    "REELS": (
        "views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
        "ig_reels_avg_watch_time", "ig_reels_video_view_total_time",
    ),
    "STORY": (
        "views", "reach", "replies", "shares", "navigation", "follows", "profile_visits",
        "total_interactions",
    ),
}  # fmt: skip
IG_CORE_METRICS = ("views", "reach", "likes", "comments", "shares", "saved")
IG_DEFAULT_METRICS = IG_CORE_METRICS + ("total_interactions", "replies")
IG_KNOWN_METRICS = frozenset(m for ms in IG_METRICS_BY_PRODUCT.values() for m in ms)
_IG_LEGACY: dict[str, tuple[str, ...] | None] = {
    "impressions": ("views",),
    "plays": ("views",),
    "video_views": ("views",),
    "ig_reels_aggregated_all_plays_count": ("views",),
    "carousel_album_impressions": ("views",),
    "carousel_album_video_views": ("views",),
    "carousel_album_reach": ("reach",),
    "carousel_album_saved": ("saved",),
    "carousel_album_engagement": ("total_interactions",),
    "engagement": ("total_interactions",),
    "saves": ("saved",),
    "taps_forward": ("navigation",),
    "taps_back": ("navigation",),
    "exits": ("navigation",),
    "like_count": ("likes",),
    "comments_count": ("comments",),
    "clips_replays_count": None,
}

IG_METRIC_NAMES = MetricNames(
    setting="IG_INSIGHTS_METRICS",
    known=IG_KNOWN_METRICS,
    legacy=_IG_LEGACY,
    defaults=IG_DEFAULT_METRICS,
    core=IG_CORE_METRICS,
)


# A flat list; `ig_metrics_for_kind` keeps those valid per media type.
resolve_ig_metrics = IG_METRIC_NAMES.resolve


def ig_kind(media_type: str | None, media_product_type: str | None) -> str:
    """Combine Instagram ``media_product_type``/``media_type`` into ``PRODUCT/TYPE``."""
    product = (media_product_type or "FEED").upper()
    if product in {"AD", "UNKNOWN"}:
        product = "FEED"
    return f"{product}/{(media_type or 'UNKNOWN').upper()}"


def parse_ig_kind(value: str | None) -> str | None:
    """Normalise a cached Instagram media type (``REELS``, ``CAROUSEL_ALBUM``, ``FEED/IMAGE``)."""
    if not value:
        return None
    value = value.strip().upper()
    if "/" in value:
        product, _, media = value.partition("/")
        return ig_kind(media, product) if product in IG_METRICS_BY_PRODUCT else None
    if value in {"REELS", "REEL"}:
        return "REELS/VIDEO"
    if value in {"STORY", "STORIES"}:
        return "STORY/UNKNOWN"
    if value in {"IMAGE", "VIDEO", "CAROUSEL_ALBUM"}:
        return f"FEED/{value}"
    return None


def ig_metrics_for_kind(metrics: Sequence[str], kind: str) -> tuple[str, ...]:
    """Keep the metrics valid for the media product type of ``kind`` (``PRODUCT/TYPE``)."""
    product = kind.partition("/")[0]
    valid = IG_METRICS_BY_PRODUCT.get(product, IG_METRICS_BY_PRODUCT["FEED"])
    return tuple(m for m in metrics if m in valid)
