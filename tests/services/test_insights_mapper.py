"""Pure mapping of platform payloads, schedule analytics and fake metrics."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.vocabulary import Provider
from app.integrations.platforms import platform_for
from app.services.insights_mapper import (
    MetricValues,
    compute_schedule_analytics,
    generate_fake_metrics,
    map_linkedin_to_post_metrics,
    map_meta_to_post_metrics,
)


def _insights(edge: str = "insights", **values: Any) -> dict[str, Any]:
    return {
        edge: {
            "data": [
                {"name": k, "period": "lifetime", "values": [{"value": v}]}
                for k, v in values.items()
            ]
        }
    }


FB_POST: dict[str, Any] = {
    "id": "1_2",
    **_insights(
        post_media_view=1000,
        post_total_media_view_unique=700,
        post_clicks=40,
        post_reactions_by_type_total={"like": 30, "love": 5, "haha": 1},
        post_video_views=250,
    ),
    "reactions": {"data": [], "summary": {"total_count": 36}},
    "comments": {"data": [], "summary": {"total_count": 9}},
    "shares": {"count": 4},
    "_postmeter": {"node": "post", "kind": "post"},
}


def test_facebook_every_column() -> None:
    values = map_meta_to_post_metrics("facebook", FB_POST, media_type="post")
    assert values == MetricValues(
        impressions=1000,
        reach=700,
        likes=36,
        comments=9,
        shares=4,
        clicks=40,
        video_views=None,  # not a video
        saves=None,
        cost_cents=None,
    )


def test_facebook_video_post_views() -> None:
    values = map_meta_to_post_metrics("facebook", FB_POST, media_type="video_post")
    assert values.video_views == 250


def test_facebook_shares_absent_means_zero_only_for_fetched_post_objects() -> None:
    without_shares = {k: v for k, v in FB_POST.items() if k != "shares"}
    assert map_meta_to_post_metrics("facebook", without_shares, media_type=None).shares == 0
    bare_insights = _insights(post_media_view=5)
    assert map_meta_to_post_metrics("facebook", bare_insights, media_type=None).shares is None


def test_facebook_unreported_is_none_not_zero() -> None:
    values = map_meta_to_post_metrics("facebook", {"id": "1_2", "insights": {"data": []}},
                                      media_type=None)  # fmt: skip
    assert values.impressions is None
    assert values.reach is None
    assert values.likes is None
    assert values.comments is None
    assert values.clicks is None
    assert values.saves is None


def test_facebook_likes_fall_back_to_reaction_summary() -> None:
    payload = {"id": "1_2", "reactions": {"summary": {"total_count": 12}}}
    assert map_meta_to_post_metrics("facebook", payload, media_type=None).likes == 12
    empty_breakdown = {**_insights(post_reactions_by_type_total={}), "id": "1_2"}
    assert map_meta_to_post_metrics("facebook", empty_breakdown, media_type=None).likes == 0


def test_facebook_video_node() -> None:
    payload = {
        "id": "777",
        **_insights(
            "video_insights",
            total_video_views=90,
            total_video_impressions=300,
            total_video_impressions_unique=200,
        ),  # fmt: skip
        "reactions": {"summary": {"total_count": 8}},
        "comments": {"summary": {"total_count": 3}},
        "_postmeter": {"node": "video", "kind": "video"},
    }
    values = map_meta_to_post_metrics("facebook", payload, media_type="video")
    assert (values.impressions, values.reach, values.video_views) == (300, 200, 90)
    assert (values.likes, values.comments) == (8, 3)
    assert values.shares is None  # videos were not asked for shares: unknown, not 0
    reel = {**_insights("video_insights", blue_reels_play_count=55), "id": "778"}
    assert map_meta_to_post_metrics("facebook", reel, media_type="reel").video_views == 55


IG_REEL: dict[str, Any] = {
    "id": "9",
    "media_type": "VIDEO",
    "media_product_type": "REELS",
    "like_count": 50,
    "comments_count": 6,
    **_insights(
        views=5000, reach=3000, likes=51, comments=7, shares=12, saved=20, total_interactions=90
    ),  # fmt: skip
}


def test_instagram_every_column() -> None:
    values = map_meta_to_post_metrics("instagram", IG_REEL, media_type="REELS/VIDEO")
    assert values == MetricValues(
        impressions=5000,
        reach=3000,
        likes=51,
        comments=7,
        shares=12,
        clicks=None,
        video_views=5000,
        saves=20,
        cost_cents=None,
    )


def test_instagram_image_has_no_video_views_and_falls_back_to_counts() -> None:
    payload = {"id": "8", "media_type": "IMAGE", "media_product_type": "FEED",
               "like_count": 4, "comments_count": 1, **_insights(views=100, reach=80)}  # fmt: skip
    values = map_meta_to_post_metrics("instagram", payload, media_type=None)
    assert values.video_views is None
    assert (values.likes, values.comments) == (4, 1)
    assert values.shares is None
    assert values.saves is None


def test_instagram_empty_insights_lag() -> None:
    payload = {"id": "8", "media_type": "VIDEO", "insights": {"data": []}}
    values = map_meta_to_post_metrics("instagram", payload, media_type="FEED/VIDEO")
    assert values == MetricValues()


def test_linkedin_organization() -> None:
    element = {
        "share": "urn:li:share:1",
        "totalShareStatistics": {
            "impressionCount": 900,
            "uniqueImpressionsCount": 600,
            "clickCount": 30,
            "likeCount": 20,
            "commentCount": 4,
            "shareCount": 2,
            "engagement": 0.06,
        },  # fmt: skip
    }
    values = map_linkedin_to_post_metrics(element, kind="organization")
    assert values == MetricValues(impressions=900, reach=600, likes=20, comments=4, shares=2,
                                  clicks=30)  # fmt: skip
    kept = map_linkedin_to_post_metrics(element, kind="organization",
                                        fields=("impressionCount", "likeCount"))  # fmt: skip
    assert (kept.impressions, kept.likes, kept.reach) == (900, 20, None)
    missing = map_linkedin_to_post_metrics({"totalShareStatistics": {}}, kind="organization")
    assert missing == MetricValues()


def test_linkedin_member() -> None:
    payload = {"entity": "urn:li:share:1", "metrics": {"IMPRESSION": 10, "MEMBERS_REACHED": 8,
               "REACTION": 3, "COMMENT": 1}}  # fmt: skip
    values = map_linkedin_to_post_metrics(payload, kind="member")
    assert (values.impressions, values.reach, values.likes, values.comments) == (10, 8, 3, 1)
    assert values.shares is None
    assert values.clicks is None


def test_analytics_totals_and_rates() -> None:
    rows = [
        MetricValues(impressions=1000, reach=800, likes=50, comments=10, shares=5, clicks=20),
        MetricValues(impressions=500, reach=200, likes=25, saves=15, video_views=100),
        MetricValues(),
    ]
    result = compute_schedule_analytics(rows)
    assert result.totals == MetricValues(
        impressions=1500, reach=1000, likes=75, comments=10, shares=5, clicks=20,
        video_views=100, saves=15,
    )  # fmt: skip
    assert result.engagement == 125
    assert result.engagement_rate == pytest.approx(0.125)
    assert result.click_through_rate == pytest.approx(20 / 1500)
    assert result.cost_per_engagement_cents is None


def test_analytics_falls_back_to_impressions_and_uses_cost() -> None:
    result = compute_schedule_analytics(
        [MetricValues(impressions=400, likes=10, comments=10, cost_cents=500)]
    )
    assert result.engagement_rate == pytest.approx(0.05)
    assert result.click_through_rate is None
    assert result.cost_per_engagement_cents == pytest.approx(25.0)


def test_analytics_divide_by_zero_and_nothing_reported() -> None:
    zero = compute_schedule_analytics([MetricValues(impressions=0, reach=0, likes=0, clicks=0,
                                                    cost_cents=100)])  # fmt: skip
    assert zero.engagement == 0
    assert zero.engagement_rate is None
    assert zero.click_through_rate is None
    assert zero.cost_per_engagement_cents is None
    empty = compute_schedule_analytics([])
    assert empty.totals == MetricValues()
    assert empty.engagement is None
    assert empty.engagement_rate is None


@pytest.mark.parametrize("provider", ["facebook", "instagram", "linkedin"])
def test_fake_metrics_deterministic_and_monotonic(provider: str) -> None:
    ages = [0, 0.5, 1, 3, 6, 12, 24, 48, 96, 24 * 30]
    series = [generate_fake_metrics(provider, "post-42", age, media_type="VIDEO") for age in ages]
    assert series == [generate_fake_metrics(provider, "post-42", a, media_type="VIDEO")
                      for a in ages]  # fmt: skip
    assert series[0].impressions == 0
    for earlier, later in zip(series, series[1:], strict=False):
        for name, value in earlier.as_dict().items():
            if value is not None:
                assert getattr(later, name) >= value, name
    for values in series:
        assert values.reach is not None
        assert values.impressions is not None
        assert values.reach <= values.impressions
        assert (values.likes or 0) <= values.impressions * 0.06 + 1
        # LinkedIn's statistics hold no video views, so neither do its fakes.
        reports_views = "video_views" in platform_for(provider).reported_metrics
        assert (values.video_views is not None) == reports_views
        assert values.cost_cents is None
    final = series[-1]
    assert final.impressions is not None
    assert final.impressions >= 150  # saturates near its 200..20,000 peak


def test_fake_metrics_per_provider_and_media() -> None:
    image = generate_fake_metrics("instagram", "a", 24, media_type="FEED/IMAGE")
    assert image.video_views is None
    assert image.clicks is None
    assert image.saves is not None
    fb = generate_fake_metrics("facebook", "a", 24)
    assert fb.saves is None
    assert fb.clicks is not None
    assert generate_fake_metrics("facebook", "b", 24) != fb


@pytest.mark.parametrize("provider", list(Provider))
def test_fake_metrics_fill_exactly_what_the_platform_reports(provider: Provider) -> None:
    video = generate_fake_metrics(provider.value, "p", 72, media_type="VIDEO")
    filled = {name for name, value in video.as_dict().items() if value is not None}
    assert filled == platform_for(provider).reported_metrics
