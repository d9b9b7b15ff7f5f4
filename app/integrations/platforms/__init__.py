"""One home per platform behind one interface (`Platform`), found by provider.

`platform_for(provider)` is how services reach a platform; no service branches on the
provider. A new platform is a new module here and one entry in `PLATFORMS`.

What a transport needs of a platform (how its error replies classify, its metric names) sits
in modules named after the platform (`meta_errors`, `linkedin_errors`, `facebook_metrics`,
`instagram_metrics`) that import no home and no transport, so the transports use them without
an import cycle; the homes import only the transports' types.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.core.vocabulary import Provider
from app.integrations.platforms.base import (
    AccountKind,
    ErrorReply,
    IdRule,
    InsightsClients,
    MetricsRequest,
    Platform,
)
from app.integrations.platforms.facebook import FACEBOOK
from app.integrations.platforms.instagram import INSTAGRAM
from app.integrations.platforms.linkedin import LINKEDIN

__all__ = [
    "PLATFORMS",
    "AccountKind",
    "ErrorReply",
    "IdRule",
    "InsightsClients",
    "MetricsRequest",
    "Platform",
    "app_throttle_keys",
    "platform_for",
]

PLATFORMS: Mapping[Provider, Platform] = MappingProxyType(
    {home.provider: home for home in (FACEBOOK, INSTAGRAM, LINKEDIN)}
)


def platform_for(provider: Provider | str) -> Platform:
    """The home of `provider` (a `Provider` or its value); `ValueError` for an unknown one."""
    return PLATFORMS[Provider(provider)]


def app_throttle_keys() -> frozenset[str]:
    """Every app-wide throttle key of any platform (the summary lists their pauses)."""
    return frozenset(key for home in PLATFORMS.values() for key in home.app_throttle_keys)
