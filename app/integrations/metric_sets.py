"""Which insights metrics we request, translated from settings, and which the platform refused.

Metric names are data that goes stale (Meta retires metrics every few versions), so:

- ``resolve_*`` turn a settings string (``META_INSIGHTS_FIELDS_FB``, ``IG_INSIGHTS_METRICS``,
  ``LINKEDIN_STATS_FIELDS``) into names the platforms accept today. Legacy names are
  translated (``impressions`` -> ``post_media_view``/``views``, ``saves`` -> ``saved``) and
  never sent; unknown names are dropped. Everything noteworthy is logged as ONE warning.
- By default the *core* metrics that fill our columns are always included, so an old,
  partial env value still yields complete metrics (``include_core=False`` to opt out).
- :class:`MetricRejections` remembers metrics a platform rejected per
  (provider, API version, media type) so later polls do not pay for them again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from app.integrations.metric_rejections import MetricRejections

__all__ = [
    "MetricRejections",
    "ResolvedMetrics",
    "fb_kind",
    "fb_metrics_for_kind",
    "ig_kind",
    "ig_metrics_for_kind",
    "parse_ig_kind",
    "resolve_fb_metrics",
    "resolve_ig_metrics",
    "resolve_linkedin_fields",
]

log = structlog.get_logger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ResolvedMetrics:
    """Metric names to use, plus human-readable notes about what was translated/dropped."""

    metrics: tuple[str, ...]
    warnings: tuple[str, ...] = ()


# --- Facebook -----------------------------------------------------------------------------

FB_CORE_METRICS = (
    "post_media_view",
    "post_total_media_view_unique",
    "post_clicks",
    "post_reactions_by_type_total",
)
FB_VIDEO_POST_METRICS = ("post_video_views",)
FB_DEFAULT_METRICS = FB_CORE_METRICS + FB_VIDEO_POST_METRICS
FB_KNOWN_METRICS = frozenset(
    FB_DEFAULT_METRICS
    + (
        "post_clicks_by_type",
        "post_reactions_like_total",
        "post_reactions_love_total",
        "post_reactions_wow_total",
        "post_reactions_haha_total",
        "post_reactions_sorry_total",
        "post_reactions_anger_total",
        "post_video_views_unique",
        "post_video_avg_time_watched",
        "post_video_view_time",
        "post_video_complete_views_organic",
    )
)
# Video nodes (``/{video-id}/video_insights``) and reels have their own metric names.
# The video impressions metrics went with the other impressions metrics (views replaced them).
FB_VIDEO_NODE_METRICS = (
    "total_video_views",
    "total_video_views_unique",
)
FB_REEL_NODE_METRICS = (
    "blue_reels_play_count",
    "fb_reels_total_plays",
    "post_video_likes_by_reaction_type",
    "post_video_social_actions",
)
# Old name -> replacement metrics; () = served by the post object's summaries; None = gone.
_FB_LEGACY: dict[str, tuple[str, ...] | None] = {
    "impressions": ("post_media_view",),
    "post_impressions": ("post_media_view",),
    "views": ("post_media_view",),
    "post_impressions_unique": ("post_total_media_view_unique",),
    "reach": ("post_total_media_view_unique",),
    "post_reach": ("post_total_media_view_unique",),
    "likes": ("post_reactions_by_type_total",),
    "reactions": ("post_reactions_by_type_total",),
    "post_reactions": ("post_reactions_by_type_total",),
    "comments": (),
    "shares": (),
    "clicks": ("post_clicks",),
    "video_views": ("post_video_views",),
    "post_engaged_users": None,
    "post_impressions_paid": None,
    "post_impressions_paid_unique": None,
    "post_impressions_organic": None,
    "post_impressions_organic_unique": None,
    "post_impressions_fan": None,
    "post_impressions_fan_unique": None,
    "post_impressions_viral": None,
    "post_impressions_viral_unique": None,
    "post_engagements": None,
    "post_negative_feedback": None,
}

# --- Instagram ----------------------------------------------------------------------------

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

# --- LinkedIn -----------------------------------------------------------------------------

LINKEDIN_CORE_FIELDS = (
    "impressionCount",
    "uniqueImpressionsCount",
    "clickCount",
    "likeCount",
    "commentCount",
    "shareCount",
)
LINKEDIN_KNOWN_FIELDS = frozenset(LINKEDIN_CORE_FIELDS + ("engagement",))
_LINKEDIN_LEGACY: dict[str, tuple[str, ...] | None] = {
    "impressions": ("impressionCount",),
    "reach": ("uniqueImpressionsCount",),
    "uniqueImpressions": ("uniqueImpressionsCount",),
    "clicks": ("clickCount",),
    "likes": ("likeCount",),
    "comments": ("commentCount",),
    "shares": ("shareCount",),
}

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _split(raw: str | Iterable[str] | None) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or ())
    return [item.strip() for item in items if item and item.strip()]


def _resolve(
    setting: str,
    raw: str | Iterable[str] | None,
    *,
    known: frozenset[str],
    legacy: Mapping[str, tuple[str, ...] | None],
    defaults: Sequence[str],
    core: Sequence[str],
    include_core: bool,
) -> ResolvedMetrics:
    names = _split(raw)
    if not names:
        return ResolvedMetrics(tuple(defaults))
    out: list[str] = []
    notes: list[str] = []
    for name in names:
        if name in known:
            out.append(name)
        elif name in legacy:
            replacement = legacy[name]
            if replacement is None:
                notes.append(f"{name}: retired by the platform, dropped")
            elif replacement:
                notes.append(f"{name} -> {','.join(replacement)}")
                out.extend(replacement)
            else:
                notes.append(f"{name}: read from the post object, not an insights metric")
        elif not _NAME_RE.match(name):
            notes.append(f"{name!r}: not a metric name, dropped")
        else:
            notes.append(f"{name}: unknown metric, dropped")
    if include_core:
        out.extend(core)
    metrics = tuple(dict.fromkeys(out))
    if notes:
        _warn_once(setting, ",".join(names), notes, metrics)
    return ResolvedMetrics(metrics, tuple(notes))


def _warn_once(setting: str, raw: str, notes: list[str], metrics: tuple[str, ...]) -> None:
    with _warned_lock:
        if (setting, raw) in _warned:
            return
        _warned.add((setting, raw))
    log.warning(
        "insights.config.metric_names_translated",
        setting=setting,
        notes=notes,
        using=list(metrics),
    )


def resolve_fb_metrics(
    raw: str | Iterable[str] | None, *, include_core: bool = True
) -> ResolvedMetrics:
    """Translate ``META_INSIGHTS_FIELDS_FB`` into current Facebook post insights metrics.

    ``None``/empty gives the defaults. ``post_video_views`` is only sent for video posts
    (see :func:`fb_metrics_for_kind`); comments/shares always come from the post object.
    """
    return _resolve(
        "META_INSIGHTS_FIELDS_FB",
        raw,
        known=FB_KNOWN_METRICS,
        legacy=_FB_LEGACY,
        defaults=FB_DEFAULT_METRICS,
        core=FB_DEFAULT_METRICS,
        include_core=include_core,
    )


def resolve_ig_metrics(
    raw: str | Iterable[str] | None, *, include_core: bool = True
) -> ResolvedMetrics:
    """Translate ``IG_INSIGHTS_METRICS`` into current Instagram media insights metrics.

    The result is a flat list; :func:`ig_metrics_for_kind` keeps those valid per media type.
    """
    return _resolve(
        "IG_INSIGHTS_METRICS",
        raw,
        known=IG_KNOWN_METRICS,
        legacy=_IG_LEGACY,
        defaults=IG_DEFAULT_METRICS,
        core=IG_CORE_METRICS,
        include_core=include_core,
    )


def resolve_linkedin_fields(
    raw: str | Iterable[str] | None, *, include_core: bool = True
) -> ResolvedMetrics:
    """Translate ``LINKEDIN_STATS_FIELDS``: which ``totalShareStatistics`` fields we keep.

    LinkedIn returns the statistics whole, so this is never a request parameter.
    """
    return _resolve(
        "LINKEDIN_STATS_FIELDS",
        raw,
        known=LINKEDIN_KNOWN_FIELDS,
        legacy=_LINKEDIN_LEGACY,
        defaults=LINKEDIN_CORE_FIELDS,
        core=LINKEDIN_CORE_FIELDS,
        include_core=include_core,
    )


# --- media kinds --------------------------------------------------------------------------

FB_KINDS = ("post", "video_post", "video", "reel")


def fb_kind(media_type: str | None, post_id: str) -> str:
    """Classify a Facebook post for metric selection.

    ``post``: page post; ``video_post``: page post (``{page}_{post}``) carrying a video;
    ``video``/``reel``: a bare video id, read through ``video_insights``.
    """
    value = (media_type or "").strip().lower()
    if value in FB_KINDS:
        return value
    is_post_id = "_" in post_id
    if value in {"added_video", "video_inline", "video_autoplay", "video", "videos"}:
        return "video_post" if is_post_id else "video"
    if value in {"reels", "fb_reel", "reel", "video_reel"}:
        return "video_post" if is_post_id else "reel"
    return "post"


def fb_metrics_for_kind(
    metrics: Sequence[str],
    kind: str,
    *,
    video_metrics: Sequence[str] = FB_VIDEO_NODE_METRICS,
    reel_metrics: Sequence[str] = FB_REEL_NODE_METRICS,
) -> tuple[str, ...]:
    """The Facebook metrics to request for a post of ``kind`` (see :func:`fb_kind`)."""
    if kind == "video":
        return tuple(video_metrics)
    if kind == "reel":
        return tuple(reel_metrics)
    if kind == "video_post":
        return tuple(metrics)
    return tuple(m for m in metrics if not m.startswith("post_video_"))


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
