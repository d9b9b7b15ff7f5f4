"""Facebook Pages: post ids, and how a post's Graph payload becomes metric values.

Mapping: impressions=post_media_view, reach=post_total_media_view_unique, likes=all reactions,
comments/shares from the post's summaries, clicks=post_clicks, video_views=post_video_views
(or the video node's plays) for videos only, saves=None. The one 0 that is not reported:
Graph omits ``shares`` when the count is 0, so it is 0 when we fetched the post object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from app.core.metrics import MetricValues
from app.core.vocabulary import Provider
from app.integrations.platforms.base import IdRule, InsightsClients, MetricsRequest
from app.integrations.platforms.content import VIDEO_EXTENSIONS, ContentRules
from app.integrations.platforms.meta import NUMERIC_ID, MetaGraphPlatform
from app.integrations.platforms.payload import (
    as_count,
    first_count,
    graph_insights,
    graph_summary_count,
)
from app.integrations.types import PostFetchResult

_VIDEO_KINDS = {"video", "reel", "video_post", "added_video", "reels"}


def map_facebook_metrics(payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
    """A Facebook post (or video) payload as fetched -> metric values."""
    raw_meta = payload.get("_postmeter")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    node = meta.get("node") or ("video" if "video_insights" in payload else "post")
    kind = str(media_type or meta.get("kind") or "").lower()
    metrics = graph_insights(payload, "insights", "video_insights")
    is_video = node == "video" or kind in _VIDEO_KINDS
    likes = first_count(
        metrics.get("post_reactions_by_type_total"),
        metrics.get("post_video_likes_by_reaction_type"),
        graph_summary_count(payload, "reactions"),
    )
    shares = payload.get("shares")
    if isinstance(shares, Mapping):
        shares_count = as_count(shares.get("count"))
    else:
        # Graph omits ``shares`` at 0; we asked for it on post nodes, so absent means 0.
        shares_count = 0 if node == "post" and "id" in payload else None
    clicks = first_count(metrics.get("post_clicks"), metrics.get("post_clicks_by_type"))
    return MetricValues(
        impressions=first_count(
            metrics.get("post_media_view"), metrics.get("total_video_impressions")
        ),
        reach=first_count(
            metrics.get("post_total_media_view_unique"),
            metrics.get("total_video_impressions_unique"),
        ),
        likes=likes,
        comments=graph_summary_count(payload, "comments"),
        shares=shares_count,
        clicks=clicks,
        video_views=first_count(
            metrics.get("post_video_views"),
            metrics.get("total_video_views"),
            metrics.get("blue_reels_play_count"),
            metrics.get("fb_reels_total_plays"),
        )
        if is_video
        else None,
        saves=None,
    )


class FacebookPlatform(MetaGraphPlatform):
    """Facebook Pages through the Graph API."""

    provider = Provider.FACEBOOK
    error_source: Literal["facebook"] = "facebook"
    post_id = IdRule(
        re.compile(r"^[0-9]{1,32}(_[0-9]{1,32})?$"), "{page-id}_{post-id} or a video id"
    )
    account_id = IdRule(NUMERIC_ID, "a numeric Facebook Page id")
    # video_views for videos and reels only; Facebook reports no saves.
    reported_metrics = frozenset(
        {"impressions", "reach", "likes", "comments", "shares", "clicks", "video_views"}
    )
    # Text: 63,206 characters. Photos: JPEG, BMP, PNG, GIF, TIFF (Meta's Photo reference);
    # videos: MP4 and MOV, the formats Meta recommends (Pages video guide; it takes more).
    # Several photos go in one /feed post through attached_media (no documented maximum; 10,
    # as Instagram's carousel); a video is its own post, so no video with photos.
    content_rules = ContentRules(
        max_text_length=63_206,
        needs_media=False,
        image_extensions=frozenset({"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff"}),
        video_extensions=VIDEO_EXTENSIONS,
        max_media=10,
    )
    kind_of_accounts = "page"

    async def fetch_metrics(
        self, clients: InsightsClients, request: MetricsRequest
    ) -> dict[str, PostFetchResult]:
        return await clients.meta.get_fb_post_insights(
            request.token,
            request.post_ids,
            page_id=request.account_id,
            media_types=request.media_types,
        )

    def map_payload(self, payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
        return map_facebook_metrics(payload, media_type)


FACEBOOK = FacebookPlatform()
