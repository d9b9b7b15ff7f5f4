"""Publishers: one per platform, creating posts for the publishing engine (see `base`).

`build_publishers` is the registry: one factory per provider, each given the process's
pooled clients. The engine finds a publisher by provider (`Publishers.for_provider`); no code
branches on the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import httpx

from app.core.vocabulary import Provider
from app.integrations.http import RetryPolicy
from app.publishers.base import Publisher
from app.publishers.facebook import FacebookPublisher
from app.publishers.graph import GraphPublishing
from app.publishers.instagram import InstagramPublisher
from app.publishers.linkedin import LinkedInPublisher
from app.publishers.media import MediaFetcher

__all__ = ["PublisherClients", "Publishers", "build_publishers"]


@dataclass(frozen=True, slots=True)
class PublisherClients:
    """What the factories build publishers from (built by `app.services.platform_clients`)."""

    meta_http: httpx.AsyncClient
    linkedin_http: httpx.AsyncClient
    media: MediaFetcher
    meta_api_version: str
    linkedin_api_version: str
    meta_app_secret: str | None
    retry: RetryPolicy


def _graph(clients: PublisherClients, provider: Provider) -> GraphPublishing:
    return GraphPublishing(
        clients.meta_http,
        provider=provider,
        api_version=clients.meta_api_version,
        app_secret=clients.meta_app_secret,
        retry=clients.retry,
    )


_FACTORIES: Mapping[Provider, Callable[[PublisherClients], Publisher]] = MappingProxyType(
    {
        Provider.FACEBOOK: lambda c: FacebookPublisher(_graph(c, Provider.FACEBOOK)),
        Provider.INSTAGRAM: lambda c: InstagramPublisher(_graph(c, Provider.INSTAGRAM)),
        Provider.LINKEDIN: lambda c: LinkedInPublisher(
            c.linkedin_http, c.media, api_version=c.linkedin_api_version, retry=c.retry
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Publishers:
    """The process's publishers by provider."""

    by_provider: Mapping[Provider, Publisher]

    def for_provider(self, provider: Provider) -> Publisher:
        """The publisher of `provider` (`KeyError` for one without publishing)."""
        return self.by_provider[Provider(provider)]


def build_publishers(clients: PublisherClients) -> Publishers:
    """Every platform's publisher over `clients`."""
    return Publishers(
        MappingProxyType({provider: make(clients) for provider, make in _FACTORIES.items()})
    )
