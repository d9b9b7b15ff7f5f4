"""Insights metric catalogs (treated as data: the platforms retire metrics) and the builders
of Graph ``insights`` / ``video_insights`` answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.sandbox.curves import snapshot
from app.sandbox.entities import Post
from app.sandbox.graph_errors import (
    GraphError,
    ig_unsupported_metric,
    invalid_metric,
    invalid_parameter,
)

Snapshot = dict[str, Any]
MetricDef = tuple[str, str, Callable[[Snapshot], Any]]

PERIODS = frozenset({"day", "week", "days_28", "month", "lifetime", "total_over_range"})
STORY_TTL = 86_400.0  # a story (and its insights) lives 24 h

FB_POST_METRICS: dict[str, MetricDef] = {
    "post_media_view": (
        "Lifetime Post Media Views",
        "Lifetime: The number of times your post was on screen. (Total Count)",
        lambda s: s["views"],
    ),
    "post_total_media_view_unique": (
        "Lifetime Post Total Media Views Unique",
        "Lifetime: The number of people who saw your post at least once. (Unique Users)",
        lambda s: s["reach"],
    ),
    "post_clicks": (
        "Lifetime Post Clicks",
        "Lifetime: The number of times people clicked on anywhere in your posts. (Total Count)",
        lambda s: s["clicks"],
    ),
    "post_clicks_by_type": (
        "Lifetime Post Clicks by type",
        "Lifetime: The number of clicks anywhere in your post, by type. (Total Count)",
        lambda s: dict(s["clicks_by_type"]),
    ),
    "post_reactions_by_type_total": (
        "Lifetime Total post Reactions by Type.",
        "Lifetime: Total post reactions by type.",
        lambda s: dict(s["reactions_by_type"]),
    ),
    "post_video_views": (
        "Lifetime Total Video Views",
        "Lifetime: Total number of times your video was viewed for 3 seconds or more. "
        "(Total Count)",
        lambda s: s["video_views"],
    ),
    "post_video_avg_time_watched": (
        "Lifetime Average time video viewed",
        "Lifetime: Average time your video was viewed, in milliseconds. (Total Count)",
        lambda s: s["avg_watch_ms"],
    ),
    "post_video_view_time": (
        "Lifetime Total Video View Time (in MS)",
        "Lifetime: Total time your video was viewed, in milliseconds. (Total Count)",
        lambda s: s["watch_time_ms"],
    ),
}


def _reaction_total(reaction: str) -> Callable[[Snapshot], Any]:
    return lambda s: s["reactions_by_type"].get(reaction, 0)


for _reaction in ("like", "love", "wow", "haha", "sorry", "anger"):
    FB_POST_METRICS[f"post_reactions_{_reaction}_total"] = (
        f"Total {_reaction.capitalize()} Reactions of a post.",
        f"Lifetime: Total {_reaction} reactions of a post.",
        _reaction_total(_reaction),
    )

VIDEO_METRICS: dict[str, MetricDef] = {
    "total_video_views": (
        "Lifetime Total Video Views",
        "Views of 3 seconds or more.",
        lambda s: s["video_views"],
    ),
    "total_video_views_unique": (
        "Lifetime Unique Video Views",
        "People who viewed your video for 3 seconds or more.",
        lambda s: s["video_views"] * 4 // 5,
    ),
    "total_video_complete_views": (
        "Lifetime Total Video Complete Views",
        "Views to 95% of the video's length.",
        lambda s: s["video_views"] // 4,
    ),
    "total_video_10s_views": (
        "Lifetime Total 10-Second Views",
        "Views of 10 seconds or more.",
        lambda s: s["video_views"] * 11 // 20,
    ),
    "total_video_avg_time_watched": (
        "Lifetime Average time video viewed",
        "Average time the video was viewed, in milliseconds.",
        lambda s: s["avg_watch_ms"],
    ),
    "total_video_view_total_time": (
        "Lifetime Total Video View Time (in MS)",
        "Total time the video was viewed, in milliseconds.",
        lambda s: s["watch_time_ms"],
    ),
    "total_video_reactions_by_type_total": (
        "Lifetime Reactions by type",
        "Reactions on the video, by type.",
        lambda s: dict(s["reactions_by_type"]),
    ),
}
REEL_METRICS: dict[str, MetricDef] = {
    "blue_reels_play_count": (
        "Plays",
        "Times the reel started to play.",
        lambda s: s["video_views"],
    ),
    "fb_reels_total_plays": (
        "Total plays",
        "Times the reel started to play, including replays.",
        lambda s: s["video_views"] * 13 // 10,
    ),
    "fb_reels_replay_count": (
        "Replays",
        "Times the reel was replayed.",
        lambda s: s["video_views"] * 13 // 10 - s["video_views"],
    ),
    "post_video_avg_time_watched": (
        "Average watch time",
        "In milliseconds.",
        lambda s: s["avg_watch_ms"],
    ),
    "post_video_view_time": ("Total watch time", "In milliseconds.", lambda s: s["watch_time_ms"]),
    "post_video_likes_by_reaction_type": (
        "Reactions by type",
        "Reactions on the reel, by type.",
        lambda s: dict(s["reactions_by_type"]),
    ),
    "post_video_social_actions": (
        "Social actions",
        "Comments and shares on the reel.",
        lambda s: {"COMMENT": s["comments"], "SHARE": s["shares"]},
    ),
}

_REEL_CATALOG: dict[str, MetricDef] = {**VIDEO_METRICS, **REEL_METRICS}  # what reels answer

IG_METRICS: dict[str, MetricDef] = {
    "views": (
        "Views",
        "The number of times your content was played or displayed.",
        lambda s: s["views"],
    ),
    "reach": (
        "Accounts reached",
        "The number of unique accounts that saw this content.",
        lambda s: s["reach"],
    ),
    "likes": ("Likes", "The number of likes on your content.", lambda s: s["reactions"]),
    "comments": ("Comments", "The number of comments on your content.", lambda s: s["comments"]),
    "shares": ("Shares", "The number of shares of your content.", lambda s: s["shares"]),
    "saved": ("Saved", "The number of saves of your content.", lambda s: s["saves"]),
    "total_interactions": (
        "Interactions",
        "Likes, saves, comments and shares, minus unlikes, unsaves and deleted comments.",
        lambda s: s["reactions"] + s["comments"] + s["shares"] + s["saves"],
    ),
    "profile_visits": (
        "Profile visits",
        "Profile visits from this content.",
        lambda s: s["profile_visits"],
    ),
    "follows": (
        "Follows",
        "Accounts that started following you from this content.",
        lambda s: s["follows"],
    ),
    "ig_reels_avg_watch_time": (
        "Average watch time",
        "In milliseconds.",
        lambda s: s["avg_watch_ms"],
    ),
    "ig_reels_video_view_total_time": (
        "Watch time",
        "In milliseconds.",
        lambda s: s["watch_time_ms"],
    ),
    "replies": ("Replies", "Replies to the story.", lambda s: s["replies"]),
    "navigation": (
        "Navigation",
        "Forward, back, next story and exit taps.",
        lambda s: s["navigation"],
    ),
}
_FEED = (
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
    "profile_visits",
    "follows",
)
_REELS = (
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
)
_STORY = (
    "views",
    "reach",
    "replies",
    "shares",
    "navigation",
    "follows",
    "profile_visits",
    "total_interactions",
)
IG_BY_PRODUCT = {"FEED": frozenset(_FEED), "REELS": frozenset(_REELS), "STORY": frozenset(_STORY)}


def _items(
    object_id: str, edge: str, names: list[str], catalog: dict[str, MetricDef], snap: Snapshot
) -> list[dict[str, Any]]:
    out = []
    for name in names:
        title, description, value = catalog[name]
        out.append(
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value(snap)}],
                "title": title,
                "description": description,
                "id": f"{object_id}/{edge}/{name}/lifetime",
            }
        )
    return out


def _check_period(period: str | None) -> bool:
    """True when the lifetime values apply; raises on a period Graph does not know."""
    if period is None or period == "lifetime":
        return True
    if period not in PERIODS:
        raise invalid_parameter(
            "period must be one of the following values: day, week, days_28, month, lifetime, "
            "total_over_range"
        )
    return False


def fb_post_insights(
    post: Post, metrics: list[str] | None, period: str | None, now: float
) -> list[dict[str, Any]]:
    """``/{page-post-id}/insights``: one bad name fails the whole call (code 100)."""
    names = metrics if metrics else list(FB_POST_METRICS)
    for name in names:
        if name not in FB_POST_METRICS:
            raise invalid_metric()
    if not _check_period(period):
        return []  # post metrics exist for the lifetime period only
    return _items(post.id, "insights", names, FB_POST_METRICS, snapshot(post, now))


def video_insights(
    post: Post, metrics: list[str] | None, period: str | None, now: float
) -> list[dict[str, Any]]:
    """``/{video-id}/video_insights`` for FB videos and reels."""
    catalog = _REEL_CATALOG if post.media_type == "reel" else VIDEO_METRICS
    names = metrics if metrics else list(catalog)
    for name in names:
        if name not in catalog:
            raise invalid_metric()
    if not _check_period(period):
        return []
    object_id = post.video_id or post.id
    return _items(object_id, "video_insights", names, catalog, snapshot(post, now))


def ig_media_insights(post: Post, metrics: list[str] | None, now: float) -> list[dict[str, Any]]:
    """``/{ig-media-id}/insights``: retired or unknown -> code 100, wrong product type -> 100."""
    if not metrics:
        raise GraphError(100, "(#100) The parameter metric is required")
    allowed = IG_BY_PRODUCT.get(post.product_type, IG_BY_PRODUCT["FEED"])
    for name in metrics:
        if name not in IG_METRICS:
            raise invalid_metric()
        if name not in allowed:
            raise ig_unsupported_metric(name)
    if post.product_type == "STORY" and now - post.created_at > STORY_TTL:
        return []  # story insights are only kept while the story is live
    return _items(post.id, "insights", metrics, IG_METRICS, snapshot(post, now))
