"""Instagram professional accounts: media ids, and how a media's Graph payload becomes metric
values.

Mapping: impressions=views, reach, likes, comments, shares, saves=saved, video_views=views for
VIDEO/REELS only, clicks=None (Instagram reports no clicks on media).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from app.core.metrics import MetricValues
from app.core.vocabulary import Provider
from app.integrations.platforms.base import IdRule, InsightsClients, MetricsRequest
from app.integrations.platforms.content import VIDEO_EXTENSIONS, ContentRules
from app.integrations.platforms.meta import NUMERIC_ID, MetaGraphPlatform
from app.integrations.platforms.payload import as_count, first_count, graph_insights
from app.integrations.types import PostFetchResult

_VIDEO_TYPES = {"VIDEO", "REELS"}


def map_instagram_metrics(payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
    """An Instagram media payload as fetched -> metric values."""
    metrics = graph_insights(payload, "insights")
    kind = (media_type or "").upper()
    types = {
        str(payload.get("media_type") or "").upper(),
        str(payload.get("media_product_type") or "").upper(),
        *kind.split("/"),
    }
    views = as_count(metrics.get("views"))
    return MetricValues(
        impressions=views,
        reach=as_count(metrics.get("reach")),
        likes=first_count(metrics.get("likes"), payload.get("like_count")),
        comments=first_count(metrics.get("comments"), payload.get("comments_count")),
        shares=as_count(metrics.get("shares")),
        clicks=None,
        video_views=views if types & _VIDEO_TYPES else None,
        saves=as_count(metrics.get("saved")),
    )


class InstagramPlatform(MetaGraphPlatform):
    """Instagram professional accounts through the Graph API."""

    provider = Provider.INSTAGRAM
    error_source: Literal["instagram"] = "instagram"
    post_id = IdRule(NUMERIC_ID, "a numeric Instagram media id")
    account_id = IdRule(NUMERIC_ID, "a numeric Instagram user id")
    # video_views for videos and reels only; Instagram reports no clicks on media.
    reported_metrics = frozenset(
        {"impressions", "reach", "likes", "comments", "shares", "video_views", "saves"}
    )
    # Content publishing guide: captions up to 2,200 characters; images JPEG only (peers such
    # as Ayrshare list PNG/GIF too, converting first: we follow Meta); videos MOV or MP4,
    # published as Reels; a carousel holds 2-10 images and/or videos. Links are not
    # clickable in captions and there is no link post: the link goes into the caption.
    content_rules = ContentRules(
        max_text_length=2_200,
        needs_media=True,
        image_extensions=frozenset({"jpg", "jpeg"}),
        video_extensions=VIDEO_EXTENSIONS,
        max_media=10,
        max_videos=10,
        mix_videos_and_images=True,
        link_cards=False,
    )
    kind_of_accounts = "instagram_user"

    async def fetch_metrics(
        self, clients: InsightsClients, request: MetricsRequest
    ) -> dict[str, PostFetchResult]:
        return await clients.meta.get_ig_media_insights(
            request.token,
            request.post_ids,
            media_types=request.media_types,
            ig_user_id=request.account_id,
        )

    def map_payload(self, payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
        return map_instagram_metrics(payload, media_type)


INSTAGRAM = InstagramPlatform()
