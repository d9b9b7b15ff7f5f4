"""Facebook Page post and Instagram media insights through Graph batch requests.

One HTTP call serves up to 50 posts: every sub-request reads one post with field expansion
(insights + object counts in one go). A post whose metrics the platform rejects is not
blanked: the named (or probed) metric is dropped, remembered in :class:`MetricRejections`
per (provider, API version, media type), and the post is re-read without it.

Payloads carry a reserved ``_postmeter`` key: ``{"node", "kind", "api_version", "metrics"}``
telling the mapper what was asked (e.g. that ``shares`` was requested, so absent means 0).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx
import structlog

from app.integrations.errors import InvalidMetricError, InvalidRequestError, PlatformError, Provider
from app.integrations.graph_batch import GraphTransport
from app.integrations.graph_paging import complete_insights
from app.integrations.http import KeyedLimiter, RetryPolicy, make_async_client
from app.integrations.metric_rejections import MetricRejections
from app.integrations.platforms.facebook_metrics import (
    FB_DEFAULT_METRICS,
    FB_REEL_NODE_METRICS,
    FB_VIDEO_NODE_METRICS,
    fb_kind,
    fb_metrics_for_kind,
)
from app.integrations.platforms.instagram_metrics import (
    IG_DEFAULT_METRICS,
    ig_kind,
    ig_metrics_for_kind,
    parse_ig_kind,
)
from app.integrations.types import JSON, PostFetchResult

log = structlog.get_logger(__name__)

_ID_RE = re.compile(r"^[0-9A-Za-z_]{1,100}$")
_COUNTS = "reactions.limit(0).summary(true),comments.limit(0).summary(true)"
FB_POST_FIELDS = f"{_COUNTS},shares,permalink_url,created_time,status_type"
FB_VIDEO_FIELDS = f"{_COUNTS},permalink_url,created_time"
IG_MEDIA_FIELDS = "id,media_type,media_product_type,like_count,comments_count,timestamp,permalink"

_ONE_ATTEMPT = RetryPolicy(attempts=1)
UrlBuilder = Callable[[str, Sequence[str]], str]
Verifier = Callable[[list[str]], Awaitable[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class MetaClientConfig:
    """Plain configuration (built from Settings by the caller)."""

    base_url: str = "https://graph.facebook.com"
    api_version: str = "v25.0"
    app_secret: str | None = None
    fb_metrics: tuple[str, ...] = FB_DEFAULT_METRICS
    ig_metrics: tuple[str, ...] | None = None
    fb_video_metrics: tuple[str, ...] = FB_VIDEO_NODE_METRICS
    fb_reel_metrics: tuple[str, ...] = FB_REEL_NODE_METRICS
    timeout_s: float = 20.0
    max_batch: int = 50
    max_connections: int = 20
    max_concurrent_batches: int = 4
    max_insights_pages: int = 5
    retry: RetryPolicy = RetryPolicy()


def _insights_expr(edge: str, metrics: Sequence[str]) -> str:
    return f"{edge}.metric({','.join(metrics)}).period(lifetime)," if metrics else ""


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


class MetaInsightsClient:
    """Facebook/Instagram insights fetcher around one shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        config: MetaClientConfig,
        *,
        http: httpx.AsyncClient | None = None,
        rejections: MetricRejections | None = None,
        limiter: KeyedLimiter | None = None,
    ) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or make_async_client(
            config.base_url, config.timeout_s, config.max_connections
        )
        self.rejections = rejections or MetricRejections()
        self.transport = GraphTransport(
            self._http,
            api_version=config.api_version,
            app_secret=config.app_secret,
            retry=config.retry,
            max_batch=config.max_batch,
            max_concurrency=config.max_concurrent_batches,
            limiter=limiter,
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> MetaInsightsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- Facebook ---------------------------------------------------------------------------

    async def get_fb_post_insights(
        self,
        token: str,
        post_ids: Sequence[str],
        *,
        page_id: str | None = None,
        media_types: Mapping[str, str] | None = None,
    ) -> dict[str, PostFetchResult]:
        """Lifetime insights + reactions/comments/shares of Facebook Page posts.

        ``media_types`` (cached per post: ``video``, ``reel``, ``added_video``...) selects
        video insights for videos/reels. Raises :class:`TokenError`/:class:`ThrottledError`
        for account-wide failures; per-post failures are in the results.
        """
        ids = _unique(post_ids)
        usage_key = page_id or (ids[0].split("_", 1)[0] if ids and "_" in ids[0] else None)
        results, valid = self._reject_bad_ids(ids, "facebook")
        groups: dict[str, list[str]] = {}
        for pid in valid:
            groups.setdefault(fb_kind((media_types or {}).get(pid), pid), []).append(pid)
        for kind, group in groups.items():
            metrics = fb_metrics_for_kind(
                self.config.fb_metrics,
                kind,
                video_metrics=self.config.fb_video_metrics,
                reel_metrics=self.config.fb_reel_metrics,
            )
            node_video = kind in ("video", "reel")
            edge, tail = ("video_insights", FB_VIDEO_FIELDS) if node_video else (
                "insights", FB_POST_FIELDS)  # fmt: skip

            def build(pid: str, ms: Sequence[str], edge: str = edge, tail: str = tail) -> str:
                return f"{pid}?fields={_insights_expr(edge, ms)}{tail}"

            group_results, _ = await self._fetch_group(
                token, "facebook", kind, group, metrics, build, usage_key,
                node="video" if node_video else "post", edge=edge,
            )  # fmt: skip
            results.update(group_results)
        await self._upgrade_video_posts(token, groups.get("post", []), results, usage_key)
        return {pid: results[pid] for pid in ids}

    async def _upgrade_video_posts(
        self,
        token: str,
        read_as_posts: list[str],
        results: dict[str, PostFetchResult],
        usage_key: str | None,
    ) -> None:
        """Posts whose `status_type` shows a video are re-read once with video metrics.

        This happens on a post's first poll only: the kind comes back in the result's
        ``media_type`` for the caller to cache. The re-read is optional: when it fails, the
        first read (post metrics) stands.
        """
        videos = [
            pid
            for pid in read_as_posts
            if (r := results.get(pid)) is not None
            and r.ok
            and r.payload is not None
            and fb_kind(str(r.payload.get("status_type") or ""), pid) == "video_post"
        ]
        if not videos:
            return
        metrics = fb_metrics_for_kind(
            self.config.fb_metrics,
            "video_post",
            video_metrics=self.config.fb_video_metrics,
            reel_metrics=self.config.fb_reel_metrics,
        )

        def build(pid: str, ms: Sequence[str]) -> str:
            return f"{pid}?fields={_insights_expr('insights', ms)}{FB_POST_FIELDS}"

        try:
            upgraded, _ = await self._fetch_group(
                token, "facebook", "video_post", videos, metrics, build, usage_key,
                node="post", edge="insights",
            )  # fmt: skip
        except PlatformError as exc:
            # Optional: the first read already holds the post's metrics; keep them.
            log.warning("insights.video_upgrade.failed", posts=len(videos),
                        error_kind=str(exc.kind), code=exc.code)  # fmt: skip
            return
        failed = [pid for pid, result in upgraded.items() if not result.ok]
        if failed:
            log.info("insights.video_upgrade.kept_first_read", posts=len(failed))
        for pid, result in upgraded.items():
            if result.ok:
                results[pid] = result

    # --- Instagram --------------------------------------------------------------------------

    async def get_ig_media_insights(
        self,
        token: str,
        media_ids: Sequence[str],
        *,
        media_types: Mapping[str, str] | None = None,
        ig_user_id: str | None = None,
    ) -> dict[str, PostFetchResult]:
        """Lifetime insights of Instagram media, with the metric set of each media type.

        Media without a known type (``media_types``: ``FEED/IMAGE``, ``REELS``,
        ``CAROUSEL_ALBUM``...) are first read in one batch to learn it; the learned type is
        returned in :attr:`PostFetchResult.media_type` for the caller to cache.
        """
        ids = _unique(media_ids)
        results, valid = self._reject_bad_ids(ids, "instagram")
        kinds: dict[str, str] = {}
        unknown: list[str] = []
        for mid in valid:
            kind = parse_ig_kind((media_types or {}).get(mid))
            if kind is None:
                unknown.append(mid)
            else:
                kinds[mid] = kind
        cached = set(kinds)
        discovered, failures = await self._discover_ig(token, unknown, ig_user_id)
        kinds.update(discovered)
        results.update(failures)

        async def verify(group_ids: list[str]) -> dict[str, str]:
            found, _ = await self._discover_ig(token, group_ids, ig_user_id)
            return found

        moved: dict[str, str] = {}
        for kind, group in _group_by_kind(kinds).items():
            group_results, group_moved = await self._fetch_ig_group(
                token, kind, group, ig_user_id, verify if cached & set(group) else None
            )
            results.update(group_results)
            moved.update(group_moved)
        for kind, group in _group_by_kind(moved).items():
            group_results, _ = await self._fetch_ig_group(token, kind, group, ig_user_id, None)
            results.update(group_results)
        return {mid: results[mid] for mid in ids}

    async def _fetch_ig_group(
        self,
        token: str,
        kind: str,
        group: list[str],
        ig_user_id: str | None,
        verify: Verifier | None,
    ) -> tuple[dict[str, PostFetchResult], dict[str, str]]:
        metrics = ig_metrics_for_kind(self.config.ig_metrics or IG_DEFAULT_METRICS, kind)

        def build(mid: str, ms: Sequence[str]) -> str:
            return f"{mid}?fields={IG_MEDIA_FIELDS},{_insights_expr('insights', ms).rstrip(',')}"

        return await self._fetch_group(
            token, "instagram", kind, group, metrics, build, ig_user_id,
            node="ig_media", edge="insights", verify=verify,
        )  # fmt: skip

    async def _discover_ig(
        self, token: str, media_ids: list[str], ig_user_id: str | None
    ) -> tuple[dict[str, str], dict[str, PostFetchResult]]:
        if not media_ids:
            return {}, {}
        urls = [f"{mid}?fields={IG_MEDIA_FIELDS}" for mid in media_ids]
        items = await self.transport.batch(token, urls, provider="instagram", usage_key=ig_user_id)
        kinds: dict[str, str] = {}
        failures: dict[str, PostFetchResult] = {}
        for mid, item in zip(media_ids, items, strict=True):
            if item.body is not None:
                body = item.body
                kinds[mid] = ig_kind(body.get("media_type"), body.get("media_product_type"))
            else:
                failures[mid] = PostFetchResult.failure(_error_of(item.error, "instagram"))
        return kinds, failures

    # --- shared -----------------------------------------------------------------------------

    def _reject_bad_ids(
        self, ids: list[str], provider: Provider
    ) -> tuple[dict[str, PostFetchResult], list[str]]:
        bad = {
            pid: PostFetchResult.failure(
                InvalidRequestError("malformed object id", provider=provider)
            )
            for pid in ids
            if not _ID_RE.match(pid)
        }
        return bad, [pid for pid in ids if pid not in bad]

    async def _fetch_group(
        self,
        token: str,
        provider: Provider,
        kind: str,
        ids: list[str],
        metrics: Sequence[str],
        build: UrlBuilder,
        usage_key: str | None,
        *,
        node: str,
        edge: str,
        verify: Verifier | None = None,
    ) -> tuple[dict[str, PostFetchResult], dict[str, str]]:
        """Fetch posts of one kind, dropping rejected metrics round by round (bounded)."""
        version = self.config.api_version
        to_send, dropped = self.rejections.filter(provider, version, kind, metrics)
        results: dict[str, PostFetchResult] = {}
        moved: dict[str, str] = {}
        pending = list(ids)
        last_error: dict[str, PlatformError] = {}
        for _round in range(len(to_send) + 2):
            items = await self.transport.batch(
                token, [build(pid, to_send) for pid in pending], provider=provider,
                usage_key=usage_key,
            )  # fmt: skip
            retry_ids: list[str] = []
            named: set[str] = set()
            for pid, item in zip(pending, items, strict=True):
                if isinstance(item.error, InvalidMetricError) and to_send:
                    retry_ids.append(pid)
                    last_error[pid] = item.error
                    if (name := _rejected_name(item.error, to_send)) is not None:
                        named.add(name)
                elif item.body is not None:
                    payload = await self._complete_pages(token, item.body, edge, provider,
                                                         usage_key)  # fmt: skip
                    payload["_postmeter"] = {
                        "node": node, "kind": kind, "api_version": version,
                        "metrics": list(to_send),
                    }  # fmt: skip
                    results[pid] = PostFetchResult.success(
                        payload, media_type=kind, dropped=tuple(dropped)
                    )
                else:
                    results[pid] = PostFetchResult.failure(
                        _error_of(item.error, provider), media_type=kind
                    )
            if not retry_ids:
                break
            if verify is not None:
                # The kind came from the caller's cache: make sure it is right before
                # blaming (and remembering) a metric for it.
                actual = await verify(retry_ids)
                for pid in [p for p in retry_ids if actual.get(p, kind) != kind]:
                    moved[pid] = actual[pid]
                    retry_ids.remove(pid)
                verify = None
                if not retry_ids:
                    break
            if not named:
                named = await self._probe(token, provider, retry_ids[0], to_send, build,
                                          usage_key)  # fmt: skip
            if not named:
                break
            reason = last_error[retry_ids[0]].message
            self.rejections.record(provider, version, kind, sorted(named), reason=reason)
            dropped += tuple(m for m in to_send if m in named)
            to_send = tuple(m for m in to_send if m not in named)
            pending = retry_ids
        for pid in pending:
            if pid not in results and pid not in moved:
                results[pid] = PostFetchResult.failure(last_error[pid], media_type=kind,
                                                       dropped=tuple(dropped))  # fmt: skip
        return results, moved

    async def _probe(
        self,
        token: str,
        provider: Provider,
        pid: str,
        metrics: Sequence[str],
        build: UrlBuilder,
        usage_key: str | None,
    ) -> set[str]:
        """Find unnamed bad metrics: one batch asking for each metric alone on one post."""
        items = await self.transport.batch(
            token, [build(pid, (m,)) for m in metrics], provider=provider, usage_key=usage_key
        )
        bad = {m for m, item in zip(metrics, items, strict=True)
               if isinstance(item.error, InvalidMetricError)}  # fmt: skip
        log.info("insights.metrics.probed", provider=provider, tried=len(metrics), bad=sorted(bad))
        return bad

    async def _complete_pages(
        self, token: str, body: JSON, edge: str, provider: Provider, usage_key: str | None
    ) -> JSON:
        """Merge cursor pages of the expanded insights edge; time paging is never followed.

        A page is optional (the first reply holds the metrics): one attempt, no backoff; a
        failed page is simply asked for again at the next poll.
        """

        async def get_page(url: str) -> JSON:
            return await self.transport.get_next_page(
                token, url, provider=provider, usage_key=usage_key, retry=_ONE_ATTEMPT
            )

        return await complete_insights(
            body, edge, get_page, provider=provider, object_id=str(body.get("id") or ""),
            max_pages=self.config.max_insights_pages,
        )  # fmt: skip


def _rejected_name(error: InvalidMetricError, sent: Sequence[str]) -> str | None:
    if error.metric in sent:
        return error.metric
    if error.metric_index is not None and 0 <= error.metric_index < len(sent):
        return sent[error.metric_index]
    return None


def _error_of(error: PlatformError | None, provider: Provider) -> PlatformError:
    return error or InvalidRequestError("empty response", provider=provider)


def _group_by_kind(kinds: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for mid, kind in kinds.items():
        groups.setdefault(kind, []).append(mid)
    return groups
