"""The interface every platform home implements: what the product needs of a platform.

Services never branch on the provider; they ask `platform_for(provider)` (see the package) for
the home and call it. A platform's knowledge (id rules, error classification, how its metrics
are fetched and mapped, its rate-limit habits) lives in its module only.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from app.core.config import Settings
from app.core.metrics import MetricValues
from app.core.vocabulary import MetricsSource, Provider
from app.integrations.errors import PlatformError, ThrottledError
from app.integrations.platforms.content import ContentRules
from app.integrations.types import PostFetchResult

if TYPE_CHECKING:
    from app.integrations.linkedin_insights import LinkedInInsightsClient
    from app.integrations.meta_insights import MetaInsightsClient

# What a connected account is on its platform (LinkedIn: an organization or a member).
AccountKind = Literal["page", "instagram_user", "organization", "member"]


@dataclass(frozen=True, slots=True)
class IdRule:
    """The shape a platform's id must have, and how to say it to a caller who got it wrong.

    The OpenAPI schema states `pattern` as it is (the account and import schemas), so write it
    to read the same in Python and in JSON Schema (ECMA-262): anchored with ^ and $, `[0-9]`
    rather than `\\d` (any Unicode digit in Python), no Python-only syntax."""

    pattern: re.Pattern[str]
    what: str

    def check(self, provider: Provider, value: str) -> None:
        """Raise `ValueError` (a 422 from a schema, or InvalidInput) when `value` does not fit."""
        if not self.pattern.fullmatch(value):
            raise ValueError(f"external_id for {provider.value} must be {self.what}")


@dataclass(frozen=True, slots=True)
class MetricsRequest:
    """Which posts of which account to fetch metrics for, with the token to use."""

    token: str
    account_id: str
    post_ids: Sequence[str]
    # What is known of each post's media (cached from earlier fetches), by post id.
    media_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error reply from a platform, with what is needed to classify and redact it."""

    status: int | None  # None: no reply came
    body: Any  # parsed JSON, raw bytes or text, or None
    secrets: Iterable[str | None] = ()  # literal values to mask in the message
    throttle_key: str | None = None
    retry_after: datetime | None = None  # a hint from headers (Retry-After, usage)


class InsightsClients(Protocol):
    """The process's pooled metrics clients (`app.services.platform_clients.PlatformClients`)."""

    @property
    def meta(self) -> MetaInsightsClient: ...

    @property
    def linkedin(self) -> LinkedInInsightsClient: ...


class Platform(Protocol):
    """One platform as the product sees it.

    Publishing: `content_rules` (checked when a schedule is created or edited) and
    `classify_publish_error` live here; the publishers themselves (`app.publishers`, keyed by
    provider) call the platform's API.

    Extension points, for the issues that follow (add them here and in every home):
    - connecting accounts: the OAuth steps (authorize URL, code exchange, token refresh) and
      the accounts a token can reach, validated with `account_id`.
    """

    @property
    def provider(self) -> Provider:
        """The provider this home serves (its registry key)."""
        ...

    @property
    def metrics_source(self) -> MetricsSource:
        """What snapshots fetched from this platform record as their source."""
        ...

    @property
    def post_id(self) -> IdRule:
        """The shape of a post id on this platform (imported posts are checked against it)."""
        ...

    @property
    def account_id(self) -> IdRule:
        """The shape of a connected account's id (page id, Instagram user id, URN)."""
        ...

    @property
    def reported_metrics(self) -> frozenset[str]:
        """The metric fields (`MetricValues` names) this platform reports for some post; the
        others are always ``None`` for it (development fakes follow this too)."""
        ...

    @property
    def content_rules(self) -> ContentRules:
        """What a post may contain here (text length, media count, kinds and types)."""
        ...

    def classify_publish_error(self, reply: ErrorReply) -> PlatformError:
        """The typed error of an error reply to a publishing call (policy, duplicate, spam,
        quota and media refusals named; the rest as `classify_error`)."""
        ...

    def account_kind(self, account_id: str) -> AccountKind:
        """What kind of account `account_id` is (decides which statistics API applies)."""
        ...

    def api_version(self, settings: Settings) -> str:
        """The platform API version the settings pin (recorded beside each snapshot)."""
        ...

    def classify_error(self, reply: ErrorReply) -> PlatformError:
        """The typed error (and so its ErrorKind) of an error reply from this platform."""
        ...

    def throttle_key(self, error: ThrottledError, account_key: str) -> str:
        """Which pause a throttle applies to: the account's (`account_key`), or app-wide."""
        ...

    @property
    def app_throttle_keys(self) -> tuple[str, ...]:
        """App-wide throttle keys that also pause this platform's accounts."""
        ...

    def throttled_until(self, error: ThrottledError, now: datetime) -> datetime:
        """Until when to pause after `error` (the platform's hint, else its habit)."""
        ...

    async def fetch_metrics(
        self, clients: InsightsClients, request: MetricsRequest
    ) -> dict[str, PostFetchResult]:
        """Lifetime metrics of an account's posts, one result per post id.

        Raises `TokenError`/`ThrottledError` for failures of the whole account.
        """
        ...

    def map_metrics(
        self,
        payload: Mapping[str, Any],
        *,
        media_type: str | None,
        fields: Collection[str] | None = None,
    ) -> MetricValues:
        """A stored payload of this platform -> metric values (`None` = not reported).

        `fields` limits the platform metric names kept (LinkedIn's LINKEDIN_STATS_FIELDS);
        `None` keeps every one the payload has.
        """
        ...
