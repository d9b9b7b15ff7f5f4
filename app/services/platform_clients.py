"""The per-process platform clients, built once from Settings (one pooled client per platform)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.integrations.http import KeyedLimiter, RetryPolicy, make_async_client
from app.integrations.linkedin_insights import LinkedInClientConfig, LinkedInInsightsClient
from app.integrations.meta_insights import MetaClientConfig, MetaInsightsClient
from app.integrations.metric_rejections import MetricRejections
from app.integrations.metric_sets import (
    resolve_fb_metrics,
    resolve_ig_metrics,
    resolve_linkedin_fields,
)
from app.models import MetricRejection, Provider
from app.models.base import utcnow
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
