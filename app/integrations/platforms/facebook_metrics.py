"""Facebook's insights metric names: what we request per kind of post, and how the
``META_INSIGHTS_FIELDS_FB`` setting is translated (retired names included).

Comments and shares are not insights metrics: they come from the post object's summaries.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.integrations.platforms.metric_names import MetricNames

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

FB_METRIC_NAMES = MetricNames(
    setting="META_INSIGHTS_FIELDS_FB",
    known=FB_KNOWN_METRICS,
    legacy=_FB_LEGACY,
    defaults=FB_DEFAULT_METRICS,
    core=FB_DEFAULT_METRICS,
)


# ``None``/empty gives the defaults. ``post_video_views`` is only sent for video posts
# (`fb_metrics_for_kind`); comments/shares always come from the post object.
resolve_fb_metrics = FB_METRIC_NAMES.resolve


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
