"""LinkedIn: URNs (the only place their prefixes are written), organization vs member
accounts, its error replies, daily quotas, and how statistics become metric values.

Organization posts: ``totalShareStatistics`` of organizationalEntityShareStatistics
(impressions=impressionCount, reach=uniqueImpressionsCount, likes, comments, shares, clicks).
Member posts: memberCreatorPostAnalytics counts as the fetcher combines them
(``{"metrics": {"IMPRESSION": n, ...}}``); members get no clicks.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from app.core.config import Settings
from app.core.metrics import MetricValues
from app.core.vocabulary import MetricsSource, Provider
from app.integrations.errors import PlatformError, ThrottledError
from app.integrations.platforms.base import (
    AccountKind,
    ErrorReply,
    IdRule,
    InsightsClients,
    MetricsRequest,
)
from app.integrations.platforms.content import ContentRules
from app.integrations.platforms.linkedin_errors import classify_linkedin_error
from app.integrations.platforms.metric_names import MetricNames
from app.integrations.platforms.payload import as_count
from app.integrations.types import PostFetchResult

ORGANIZATION_URN_PREFIX = "urn:li:organization:"
MEMBER_URN_PREFIX = "urn:li:person:"
SHARE_URN_PREFIX = "urn:li:share:"
UGC_POST_URN_PREFIX = "urn:li:ugcPost:"
POST_URN_PREFIXES = (SHARE_URN_PREFIX, UGC_POST_URN_PREFIX)

LinkedInKind = Literal["organization", "member"]

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
# memberCreatorPostAnalytics answers one queryType per call: the ones we ask for.
MEMBER_METRICS = tuple(_MEMBER_FIELDS.values())

# ``totalShareStatistics`` fields the LINKEDIN_STATS_FIELDS setting may keep.
LINKEDIN_CORE_FIELDS = (
    "impressionCount",
    "uniqueImpressionsCount",
    "clickCount",
    "likeCount",
    "commentCount",
    "shareCount",
)
LINKEDIN_STATS_FIELD_NAMES = MetricNames(
    setting="LINKEDIN_STATS_FIELDS",
    known=frozenset(LINKEDIN_CORE_FIELDS + ("engagement",)),
    legacy={
        "impressions": ("impressionCount",),
        "reach": ("uniqueImpressionsCount",),
        "uniqueImpressions": ("uniqueImpressionsCount",),
        "clicks": ("clickCount",),
        "likes": ("likeCount",),
        "comments": ("commentCount",),
        "shares": ("shareCount",),
    },
    defaults=LINKEDIN_CORE_FIELDS,
    core=LINKEDIN_CORE_FIELDS,
)


# Which ``totalShareStatistics`` fields we keep: LinkedIn returns the statistics whole, so
# this is never a request parameter.
resolve_linkedin_fields = LINKEDIN_STATS_FIELD_NAMES.resolve


def _urn_pattern(*prefixes: str, tail: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{'|'.join(re.escape(p) for p in prefixes)}){tail}$")


def is_post_urn(value: str) -> bool:
    """A share or ugcPost URN (the two kinds of post the statistics APIs take)."""
    return value.startswith(POST_URN_PREFIXES)


def map_linkedin_metrics(
    payload: Mapping[str, Any], *, kind: LinkedInKind, fields: Collection[str] | None = None
) -> MetricValues:
    """LinkedIn statistics of one post -> metric values (`fields` limits the organization
    statistics kept, from LINKEDIN_STATS_FIELDS)."""
    values: dict[str, int | None] = {}
    if kind == "organization":
        stats = payload.get("totalShareStatistics", payload)
        stats = stats if isinstance(stats, Mapping) else {}
        for column, name in _ORG_FIELDS.items():
            keep = fields is None or name in fields
            values[column] = as_count(stats.get(name)) if keep else None
    else:
        metrics = payload.get("metrics", payload)
        metrics = metrics if isinstance(metrics, Mapping) else {}
        for column, name in _MEMBER_FIELDS.items():
            values[column] = as_count(metrics.get(name))
    return MetricValues(**values)


def next_utc_midnight(now: datetime) -> datetime:
    """When LinkedIn's daily quotas reset."""
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class LinkedInPlatform:
    """LinkedIn organizations and members through the Rest.li API."""

    provider = Provider.LINKEDIN
    metrics_source = MetricsSource.LINKEDIN
    post_id = IdRule(
        _urn_pattern(*POST_URN_PREFIXES, tail=r"[0-9]{1,32}"), "urn:li:share:N or urn:li:ugcPost:N"
    )
    account_id = IdRule(
        _urn_pattern(ORGANIZATION_URN_PREFIX, MEMBER_URN_PREFIX, tail=r"[A-Za-z0-9_-]{1,64}"),
        "an organization or person URN (urn:li:organization:123, urn:li:person:abc)",
    )
    # What the share statistics (organizations) and post analytics (members) hold: members
    # get no clicks; neither has video views (a separate videoAnalytics API) or saves.
    reported_metrics = frozenset(_ORG_FIELDS) | frozenset(_MEMBER_FIELDS)
    # Posts API: commentary up to 3,000 characters; content is one of article, media (one
    # image or video) or multiImage (2-20 images). Images API: JPG, GIF, PNG; Videos API: MP4.
    content_rules = ContentRules(
        max_text_length=3_000,
        needs_media=False,
        image_extensions=frozenset({"jpg", "jpeg", "png", "gif"}),
        video_extensions=frozenset({"mp4"}),
        max_media=20,
    )
    app_throttle_keys = ()

    def account_kind(self, account_id: str) -> AccountKind:
        return "organization" if account_id.startswith(ORGANIZATION_URN_PREFIX) else "member"

    def api_version(self, settings: Settings) -> str:
        return settings.LINKEDIN_API_VERSION

    def classify_error(self, reply: ErrorReply) -> PlatformError:
        return self._classify(reply, publishing=False)

    def classify_publish_error(self, reply: ErrorReply) -> PlatformError:
        return self._classify(reply, publishing=True)

    def _classify(self, reply: ErrorReply, *, publishing: bool) -> PlatformError:
        return classify_linkedin_error(
            reply.status or 500,  # no status: the reply never came, which is transient
            reply.body,
            publishing=publishing,
            secrets=reply.secrets,
            throttle_key=reply.throttle_key,
            retry_after=reply.retry_after,
        )

    def throttle_key(self, error: ThrottledError, account_key: str) -> str:  # noqa: ARG002
        # Per token (member and application limits are per token): the account's pause.
        return account_key

    def throttled_until(self, error: ThrottledError, now: datetime) -> datetime:
        # LinkedIn quotas are daily and reset at 00:00 UTC; a 429 rarely says when.
        return error.retry_after or next_utc_midnight(now)

    async def fetch_metrics(
        self, clients: InsightsClients, request: MetricsRequest
    ) -> dict[str, PostFetchResult]:
        # Statistics do not vary by media type: request.media_types is not needed.
        token, account, posts = request.token, request.account_id, request.post_ids
        if self.account_kind(account) == "organization":
            return await clients.linkedin.get_ugc_stats(token, account, posts)
        return await clients.linkedin.get_member_post_stats(token, posts)

    def map_metrics(
        self,
        payload: Mapping[str, Any],
        *,
        media_type: str | None,  # noqa: ARG002 - statistics do not vary by media type
        fields: Collection[str] | None = None,
    ) -> MetricValues:
        # Organization statistics carry totalShareStatistics; member analytics do not.
        kind: LinkedInKind = "organization" if "totalShareStatistics" in payload else "member"
        return map_linkedin_metrics(payload, kind=kind, fields=fields)


LINKEDIN = LinkedInPlatform()
