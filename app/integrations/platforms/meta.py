"""What Facebook and Instagram share: the Graph API (errors, version, app-wide rate limit)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from app.core.config import Settings
from app.core.metrics import MetricValues
from app.core.vocabulary import MetricsSource, Provider
from app.integrations.errors import PlatformError, ThrottledError
from app.integrations.errors import Provider as ErrorSource
from app.integrations.platforms.base import AccountKind, ErrorReply, IdRule
from app.integrations.platforms.meta_errors import (
    classify_graph_error,
    classify_graph_publish_error,
)

# The throttle key of Meta's app-wide limit (one app, every page and Instagram account).
META_APP_THROTTLE_KEY = "meta:app"
# Graph's usage headers usually say when access returns; without a hint, a short pause.
DEFAULT_THROTTLE_PAUSE = timedelta(minutes=15)

NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")


class MetaGraphPlatform(ABC):
    """The Graph API half of the Facebook and Instagram homes."""

    provider: Provider
    error_source: ErrorSource  # how the errors name the platform (the same word)
    metrics_source = MetricsSource.META
    app_throttle_keys = (META_APP_THROTTLE_KEY,)
    account_id: IdRule
    # Every account of one Meta platform is of one kind (a Page, an Instagram user).
    kind_of_accounts: AccountKind

    def account_kind(self, account_id: str) -> AccountKind:  # noqa: ARG002 - one kind
        return self.kind_of_accounts

    @abstractmethod
    def map_payload(self, payload: Mapping[str, Any], media_type: str | None) -> MetricValues:
        """The platform's payload as fetched -> metric values."""

    def map_metrics(
        self,
        payload: Mapping[str, Any],
        *,
        media_type: str | None,
        fields: Collection[str] | None = None,  # noqa: ARG002 - the request chose the metrics
    ) -> MetricValues:
        return self.map_payload(payload, media_type)

    def api_version(self, settings: Settings) -> str:
        return settings.META_GRAPH_API_VERSION

    def classify_error(self, reply: ErrorReply) -> PlatformError:
        return self._classify(classify_graph_error, reply)

    def classify_publish_error(self, reply: ErrorReply) -> PlatformError:
        return self._classify(classify_graph_publish_error, reply)

    def _classify(self, classify: Callable[..., PlatformError], reply: ErrorReply) -> PlatformError:
        return classify(
            reply.status,
            reply.body,
            provider=self.error_source,
            secrets=reply.secrets,
            throttle_key=reply.throttle_key,
            retry_after=reply.retry_after,
        )

    def throttle_key(self, error: ThrottledError, account_key: str) -> str:
        # Graph's app-level limits (codes 4, 341, 613) pause every page and Instagram account.
        return META_APP_THROTTLE_KEY if error.scope == "app" else account_key

    def throttled_until(self, error: ThrottledError, now: datetime) -> datetime:
        return error.retry_after or now + DEFAULT_THROTTLE_PAUSE
