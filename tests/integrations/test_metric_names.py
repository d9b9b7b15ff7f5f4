"""Each platform's metric names (settings translation, legacy names, per-kind sets) and the
rejection memory."""

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from app.integrations.metric_rejections import MetricRejections
from app.integrations.platforms import metric_names
from app.integrations.platforms.facebook_metrics import (
    FB_DEFAULT_METRICS,
    fb_kind,
    fb_metrics_for_kind,
    resolve_fb_metrics,
)
from app.integrations.platforms.instagram_metrics import (
    IG_DEFAULT_METRICS,
    ig_kind,
    ig_metrics_for_kind,
    parse_ig_kind,
    resolve_ig_metrics,
)
from app.integrations.platforms.linkedin import LINKEDIN_CORE_FIELDS, resolve_linkedin_fields


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    metric_names._warned.clear()


def test_defaults() -> None:
    assert resolve_fb_metrics(None).metrics == FB_DEFAULT_METRICS
    assert resolve_fb_metrics("").metrics == FB_DEFAULT_METRICS
    assert resolve_ig_metrics(" ").metrics == IG_DEFAULT_METRICS
    assert resolve_linkedin_fields(None).metrics == LINKEDIN_CORE_FIELDS


def test_fb_legacy_names_translated_with_one_warning() -> None:
    with capture_logs() as logs:
        resolved = resolve_fb_metrics(
            "impressions,post_impressions_unique,likes,comments,shares,clicks"
        )
        resolve_fb_metrics("impressions,post_impressions_unique,likes,comments,shares,clicks")
    assert resolved.metrics == (
        "post_media_view",
        "post_total_media_view_unique",
        "post_reactions_by_type_total",
        "post_clicks",
        "post_video_views",
    )
    assert len(logs) == 1
    assert logs[0]["event"] == "insights.config.metric_names_translated"
    assert logs[0]["log_level"] == "warning"
    assert "impressions -> post_media_view" in resolved.warnings


def test_fb_retired_and_unknown_dropped() -> None:
    resolved = resolve_fb_metrics("post_engaged_users,bogus_metric,post_clicks", include_core=False)
    assert resolved.metrics == ("post_clicks",)
    assert any("retired" in w for w in resolved.warnings)
    assert any("unknown" in w for w in resolved.warnings)


def test_ig_legacy_names_translated() -> None:
    resolved = resolve_ig_metrics("impressions,reach,likes,comments,saves,video_views,plays")
    assert resolved.metrics == ("views", "reach", "likes", "comments", "saved", "shares")
    strict = resolve_ig_metrics("impressions,saves", include_core=False)
    assert strict.metrics == ("views", "saved")


def test_linkedin_fields() -> None:
    legacy = resolve_linkedin_fields("impressionCount,likeCount,commentCount,shareCount")
    assert set(legacy.metrics) == set(LINKEDIN_CORE_FIELDS)
    assert legacy.warnings == ()
    strict = resolve_linkedin_fields("impressions,likeCount,nonsense", include_core=False)
    assert strict.metrics == ("impressionCount", "likeCount")
    assert len(strict.warnings) == 2


def test_injection_like_names_are_dropped() -> None:
    resolved = resolve_fb_metrics("post_clicks).limit(1000,x", include_core=False)
    assert resolved.metrics == ()


def test_fb_kinds_and_metrics() -> None:
    assert fb_kind(None, "1_2") == "post"
    assert fb_kind("added_video", "1_2") == "video_post"
    assert fb_kind("video", "777") == "video"
    assert fb_kind("REELS", "777") == "reel"
    assert "post_video_views" not in fb_metrics_for_kind(FB_DEFAULT_METRICS, "post")
    assert "post_video_views" in fb_metrics_for_kind(FB_DEFAULT_METRICS, "video_post")
    assert fb_metrics_for_kind(FB_DEFAULT_METRICS, "video")[0] == "total_video_views"
    assert fb_metrics_for_kind(FB_DEFAULT_METRICS, "reel")[0] == "blue_reels_play_count"


def test_ig_kinds() -> None:
    assert ig_kind("CAROUSEL_ALBUM", "FEED") == "FEED/CAROUSEL_ALBUM"
    assert ig_kind("VIDEO", None) == "FEED/VIDEO"
    assert parse_ig_kind("REELS") == "REELS/VIDEO"
    assert parse_ig_kind("carousel_album") == "FEED/CAROUSEL_ALBUM"
    assert parse_ig_kind("story/video") == "STORY/VIDEO"
    assert parse_ig_kind("nonsense") is None
    assert parse_ig_kind(None) is None
    story = ig_metrics_for_kind(IG_DEFAULT_METRICS, "STORY/IMAGE")
    assert story == ("views", "reach", "shares", "total_interactions", "replies")
    feed = ig_metrics_for_kind(IG_DEFAULT_METRICS, "FEED/CAROUSEL_ALBUM")
    assert "replies" not in feed
    assert "saved" in feed


def test_rejections_memory_roundtrip_and_threads() -> None:
    memory = MetricRejections()
    assert memory.record("facebook", "v25.0", "post", ["post_clicks"], reason="x") == (
        "post_clicks",
    )
    assert memory.record("facebook", "v25.0", "post", ["post_clicks"]) == ()
    assert memory.filter("facebook", "v25.0", "post", ["post_media_view", "post_clicks"]) == (
        ("post_media_view",),
        ("post_clicks",),
    )
    # Other versions and media types are unaffected.
    assert memory.rejected("facebook", "v26.0", "post") == frozenset()
    assert memory.rejected("facebook", "v25.0", "video") == frozenset()

    def hammer(n: int) -> None:
        for i in range(200):
            memory.record("instagram", "v25.0", "STORY/IMAGE", [f"m{n}_{i % 7}"])

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(memory.rejected("instagram", "v25.0", "STORY/IMAGE")) == 28

    restored = MetricRejections()
    restored.load([*memory.export(), {"bad": "row"}])
    assert restored.export() == memory.export()
