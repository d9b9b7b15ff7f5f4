"""The per-process platform clients, built once from Settings (one pooled client per platform):
the insights fetchers, and the publishers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.integrations.http import KeyedLimiter, RetryPolicy, make_async_client
from app.integrations.linkedin_insights import LinkedInClientConfig, LinkedInInsightsClient
from app.integrations.meta_insights import MetaClientConfig, MetaInsightsClient
from app.integrations.metric_rejections import MetricRejections
from app.integrations.platforms.facebook_metrics import resolve_fb_metrics
from app.integrations.platforms.instagram_metrics import resolve_ig_metrics
from app.integrations.platforms.linkedin import resolve_linkedin_fields
from app.models import MetricRejection, Provider
from app.models.base import utcnow
from app.publishers import PublisherClients, Publishers, build_publishers
from app.publishers.base import Publisher
from app.publishers.media import MediaFetcher, MediaLimits, make_media_client
from app.services.insights_store import insert_for

log = structlog.get_logger(__name__)


@dataclass
class PlatformClients:
    settings: Settings
    meta: MetaInsightsClient
    linkedin: LinkedInInsightsClient
    rejections: MetricRejections
    http_clients: list[httpx.AsyncClient]
    http_calls: dict[str, int]  # HTTP requests sent per platform (benchmarks, tests)
    persisted_rejections: int = 0
    # Accounts whose token's calls this process saw counted against the platform's app-wide
    # quota (a Meta user token): only these are paused by the app-wide key or their
    # workspace's share of it (app.services.quota_shares).
    app_scoped_accounts: set[uuid.UUID] = field(default_factory=set)

    async def aclose(self) -> None:
        for client in self.http_clients:
            await client.aclose()

    async def load_rejections(self, session: AsyncSession) -> None:
        """Metrics a platform refused earlier (any worker) are never sent again."""
        rows = await session.scalars(select(MetricRejection))
        self.rejections.load(
            {
                "provider": r.provider.value,
                "api_version": r.api_version,
                "media_type": r.media_type,
                "metric": r.metric,
                "reason": r.reason or "",
            }
            for r in rows
        )
        self.persisted_rejections = len(self.rejections.export())

    async def save_rejections(self, session: AsyncSession) -> None:
        entries = self.rejections.export()
        if len(entries) == self.persisted_rejections:
            return
        now = utcnow()
        stmt = insert_for(session)(MetricRejection).on_conflict_do_nothing()
        await session.execute(
            stmt,
            [
                {
                    "provider": Provider(e["provider"]),
                    "api_version": e["api_version"],
                    "media_type": e["media_type"],
                    "metric": e["metric"],
                    "reason": e.get("reason"),
                    "created_at": now,
                }
                for e in entries
            ],
        )
        self.persisted_rejections = len(entries)


def build_platform_clients(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> PlatformClients:
    """Resolve metric sets (translating retired names, warning once) and build the clients.

    `transport` routes both platforms' HTTP elsewhere (tests run the sandbox in-process).
    """
    fb = resolve_fb_metrics(settings.META_INSIGHTS_FIELDS_FB)
    ig = resolve_ig_metrics(settings.IG_INSIGHTS_METRICS)
    li = resolve_linkedin_fields(settings.LINKEDIN_STATS_FIELDS)
    retry = RetryPolicy(attempts=settings.INSIGHTS_MAX_ATTEMPTS)
    rejections = MetricRejections()
    timeout = settings.INSIGHTS_HTTP_TIMEOUT_SECONDS
    meta_http = make_async_client(settings.META_GRAPH_API_BASE, timeout, 50, transport=transport)
    linkedin_http = make_async_client(settings.LINKEDIN_API_BASE, timeout, 50, transport=transport)
    http_calls: dict[str, int] = {"meta": 0, "linkedin": 0}
    for name, client in (("meta", meta_http), ("linkedin", linkedin_http)):
        client.event_hooks["request"].append(_counter(http_calls, name))
    meta = MetaInsightsClient(
        MetaClientConfig(
            base_url=settings.META_GRAPH_API_BASE,
            api_version=settings.META_GRAPH_API_VERSION,
            app_secret=(
                settings.META_APP_SECRET.get_secret_value() if settings.META_APP_SECRET else None
            ),
            fb_metrics=fb.metrics,
            ig_metrics=ig.metrics if settings.IG_INSIGHTS_METRICS else None,
            timeout_s=settings.INSIGHTS_HTTP_TIMEOUT_SECONDS,
            max_batch=settings.INSIGHTS_BATCH_SIZE,
            # As many Graph batches in flight as the worker runs fetch workflows.
            max_concurrent_batches=max(4, settings.INSIGHTS_WORKER_CONCURRENCY),
            retry=retry,
        ),
        http=meta_http,
        rejections=rejections,
        limiter=KeyedLimiter(max_rate=settings.META_MAX_REQUESTS_PER_SECOND),
    )
    linkedin = LinkedInInsightsClient(
        LinkedInClientConfig(
            base_url=settings.LINKEDIN_API_BASE,
            api_version=settings.LINKEDIN_API_VERSION,
            stats_fields=li.metrics,
            timeout_s=settings.INSIGHTS_HTTP_TIMEOUT_SECONDS,
            chunk_size=settings.INSIGHTS_BATCH_SIZE,
            retry=retry,
        ),
        http=linkedin_http,
    )
    return PlatformClients(
        settings, meta, linkedin, rejections, [meta_http, linkedin_http], http_calls
    )


def _counter(calls: dict[str, int], name: str) -> Callable[[httpx.Request], Awaitable[None]]:
    async def count(_request: httpx.Request) -> None:
        calls[name] += 1

    return count


# --- publishing ------------------------------------------------------------------------------


@dataclass
class PublishingClients:
    """The publishers and the pooled clients under them (one per platform, plus media).

    Separate from the insights clients: publishing calls get a longer read/write timeout
    (``PUBLISH_HTTP_TIMEOUT_SECONDS``, 120 s) because media parts are uploaded through them and
    a create may answer slowly (Instagram's media_publish has been seen taking 2 minutes);
    with the insights' 20 s such a create would often end "outcome unknown". Their own pools
    also keep a long upload from holding a connection the poller needs.
    """

    publishers: Publishers
    http_clients: list[httpx.AsyncClient]

    def publisher_for(self, provider: Provider) -> Publisher:
        """The engine's way to a publisher (`PublisherFor`)."""
        return self.publishers.for_provider(provider)

    async def aclose(self) -> None:
        for client in self.http_clients:
            await client.aclose()


def build_publishing_clients(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> PublishingClients:
    """The publishers from Settings. `transport` routes all platform *and media* HTTP
    elsewhere (tests, the in-process sandbox): it replaces the guarded media connection too,
    so it is a test seam only."""
    timeout = settings.PUBLISH_HTTP_TIMEOUT_SECONDS
    meta_http = make_async_client(settings.META_GRAPH_API_BASE, timeout, 20, transport=transport)
    linkedin_http = make_async_client(settings.LINKEDIN_API_BASE, timeout, 20, transport=transport)
    if transport is None:
        media_http = make_media_client(
            allow_private=settings.MEDIA_ALLOW_PRIVATE_URLS, timeout_s=timeout
        )
    else:
        media_http = make_async_client("", timeout, 10, transport=transport)
    media = MediaFetcher(
        media_http,
        MediaLimits(
            max_image_bytes=settings.MEDIA_MAX_IMAGE_BYTES,
            max_video_bytes=settings.MEDIA_MAX_VIDEO_BYTES,
            max_redirects=settings.MEDIA_MAX_REDIRECTS,
            timeout_s=settings.MEDIA_FETCH_TIMEOUT_SECONDS,
        ),
    )
    secret = settings.META_APP_SECRET.get_secret_value() if settings.META_APP_SECRET else None
    publishers = build_publishers(
        PublisherClients(
            meta_http=meta_http,
            linkedin_http=linkedin_http,
            media=media,
            meta_api_version=settings.META_GRAPH_API_VERSION,
            linkedin_api_version=settings.LINKEDIN_API_VERSION,
            meta_app_secret=secret,
            # Redo-safe calls only (create is never retried): a few tries within the timeout.
            retry=RetryPolicy(attempts=4, timeout_s=max(60.0, timeout)),
        )
    )
    return PublishingClients(publishers, [meta_http, linkedin_http, media_http])
