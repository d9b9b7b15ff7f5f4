"""LinkedIn post statistics: organization shares (many per call) and member posts.

Rest.li 2.0 lists are built by hand: ``List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)``
keeps ``(``, ``)`` and ``,`` literal while every URN is percent-encoded. httpx preserves a
pre-encoded query, so the final URL is exactly what we build here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from app.integrations.errors import (
    InvalidRequestError,
    NoStatisticsError,
    NotFoundError,
    PlatformError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.http import (
    RetryPolicy,
    call_with_retry,
    decode_json,
    gather_bounded,
    make_async_client,
    parse_retry_after,
    send_request,
)
from app.integrations.platforms.linkedin import (
    LINKEDIN_CORE_FIELDS,
    MEMBER_METRICS,
    POST_URN_PREFIXES,
    SHARE_URN_PREFIX,
    UGC_POST_URN_PREFIX,
)
from app.integrations.platforms.linkedin_errors import classify_linkedin_error
from app.integrations.types import JSON, PostFetchResult

log = structlog.get_logger(__name__)


def encode_urn(urn: str) -> str:
    """Percent-encode a URN for a Rest.li query or path (``:`` -> ``%3A``)."""
    return quote(urn, safe="")


def restli_list(urns: Sequence[str]) -> str:
    """``List(a,b)`` with each element encoded and the syntax characters left literal."""
    return f"List({','.join(encode_urn(u) for u in urns)})"


def member_entity(urn: str) -> str:
    """The ``entity`` union value of memberCreatorPostAnalytics: ``(share:..)``/``(ugc:..)``."""
    tag = "ugc" if urn.startswith(UGC_POST_URN_PREFIX) else "share"
    return f"({tag}:{encode_urn(urn)})"


@dataclass(frozen=True, slots=True)
class LinkedInClientConfig:
    """Plain configuration (built from Settings by the caller)."""

    base_url: str = "https://api.linkedin.com"
    api_version: str = "202604"
    stats_fields: tuple[str, ...] = LINKEDIN_CORE_FIELDS
    member_metrics: tuple[str, ...] = MEMBER_METRICS
    timeout_s: float = 20.0
    chunk_size: int = 50
    max_connections: int = 20
    member_concurrency: int = 5
    max_pages: int = 20
    retry: RetryPolicy = RetryPolicy()


class LinkedInInsightsClient:
    """LinkedIn statistics fetcher around one shared ``httpx.AsyncClient``."""

    def __init__(
        self, config: LinkedInClientConfig, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or make_async_client(
            config.base_url, config.timeout_s, config.max_connections
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> LinkedInInsightsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- transport --------------------------------------------------------------------------

    async def _get(self, token: str, path_and_query: str, *, throttle_key: str | None) -> JSON:
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self.config.api_version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

        async def attempt() -> JSON:
            request = self._http.build_request("GET", path_and_query, headers=headers)
            response = await send_request(
                self._http, request, provider="linkedin", secrets=(token,)
            )
            if response.status_code >= 400:
                error = classify_linkedin_error(
                    response.status_code,
                    response.content,
                    secrets=(token,),
                    throttle_key=throttle_key,
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
                if isinstance(error, ThrottledError):
                    log.warning("insights.fetch.throttled", provider="linkedin",
                                key=throttle_key, retry_after=error.retry_after)  # fmt: skip
                raise error
            body = decode_json(response, provider="linkedin")
            if not isinstance(body, dict):
                raise TransientError("malformed LinkedIn response", provider="linkedin")
            return body

        return await call_with_retry(self.config.retry, attempt)

    async def _get_all_elements(
        self, token: str, path_and_query: str, *, throttle_key: str | None
    ) -> tuple[list[JSON], PlatformError | None]:
        """GET a finder and follow ``paging.links[rel=next]`` (bounded).

        The first page's errors are raised. A later page is a follow-up: when it fails, the
        elements already received are kept and its error is returned beside them (for the
        posts that page would have held).
        """
        body = await self._get(token, path_and_query, throttle_key=throttle_key)
        elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
        url = _next_link(body)
        for page_number in range(2, self.config.max_pages + 1):
            if url is None:
                break
            try:
                body = await self._get(token, url, throttle_key=throttle_key)
            except PlatformError as exc:
                log.warning("insights.paging.failed", provider="linkedin", page=page_number,
                            error_kind=str(exc.kind), code=exc.code)  # fmt: skip
                return elements, exc
            elements.extend(e for e in body.get("elements") or [] if isinstance(e, dict))
            url = _next_link(body)
        return elements, None

    # --- organization posts -----------------------------------------------------------------

    async def get_ugc_stats(
        self, token: str, organization_urn: str, post_urns: Sequence[str]
    ) -> dict[str, PostFetchResult]:
        """Lifetime ``totalShareStatistics`` of organization posts, many URNs per call.

        Each call carries up to ``chunk_size`` URNs, split into ``shares=List(..)`` and
        ``ugcPosts=List(..)`` of the same request; chunks run a few at a time. A post
        missing from the answer gets :class:`NoStatisticsError`; a
        chunk rejected as a whole is bisected so one bad URN cannot fail its neighbours.
        Raises :class:`TokenError`/:class:`ThrottledError` for account-wide failures.
        """
        urns = list(dict.fromkeys(post_urns))
        results: dict[str, PostFetchResult] = {}
        shares = [u for u in urns if u.startswith(SHARE_URN_PREFIX)]
        ugc = [u for u in urns if u.startswith(UGC_POST_URN_PREFIX)]
        known = {*shares, *ugc}
        for urn in urns:
            if urn not in known:
                results[urn] = PostFetchResult.failure(
                    InvalidRequestError("not a share or ugcPost URN", provider="linkedin")
                )
        size = max(1, self.config.chunk_size)
        ordered = shares + ugc
        chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        parts = await gather_bounded(
            (partial(self._org_chunk, token, organization_urn, c) for c in chunks),
            limit=self.config.member_concurrency,
        )
        for part in parts:
            results.update(part)
        return {urn: results[urn] for urn in urns}

    async def _org_chunk(
        self, token: str, org_urn: str, chunk: list[str]
    ) -> dict[str, PostFetchResult]:
        lists = "".join(
            f"&{param}={restli_list(group)}"
            for param, prefix in (("shares", SHARE_URN_PREFIX), ("ugcPosts", UGC_POST_URN_PREFIX))
            if (group := [u for u in chunk if u.startswith(prefix)])
        )
        query = (
            "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={encode_urn(org_urn)}{lists}"
        )
        try:
            elements, page_error = await self._get_all_elements(token, query,
                                                                throttle_key=org_urn)  # fmt: skip
        except (TokenError, ThrottledError):
            raise
        except PlatformError as exc:
            # Bisect only errors one URN can cause; permission/transient hit every URN.
            if len(chunk) == 1 or not isinstance(exc, InvalidRequestError | NotFoundError):
                return {urn: PostFetchResult.failure(exc) for urn in chunk}
            half = len(chunk) // 2
            left = await self._org_chunk(token, org_urn, chunk[:half])
            return left | await self._org_chunk(token, org_urn, chunk[half:])
        by_urn = {str(e.get("share") or e.get("ugcPost")): e for e in elements}
        out: dict[str, PostFetchResult] = {}
        for urn in chunk:
            element = by_urn.get(urn)
            if element is None and page_error is not None:
                out[urn] = PostFetchResult.failure(page_error)  # its page did not arrive
            elif element is None:
                out[urn] = PostFetchResult.failure(
                    NoStatisticsError(
                        "no statistics returned for this post (older than 12 months, "
                        "not this organization's, or deleted)",
                        provider="linkedin",
                    )
                )
            else:
                out[urn] = PostFetchResult.success(element, media_type="organization")
        return out

    # --- member posts -----------------------------------------------------------------------

    async def get_member_post_stats(
        self, token: str, post_urns: Sequence[str]
    ) -> dict[str, PostFetchResult]:
        """Lifetime statistics of a member's own posts via memberCreatorPostAnalytics.

        One call per metric (``queryType``) and post, combined into
        ``{"entity": urn, "metrics": {"IMPRESSION": n, ...}, "errors": {...}}``. A metric
        with no data is absent (mapped to null), not 0.
        """
        urns = list(dict.fromkeys(post_urns))

        async def one(urn: str, metric: str) -> tuple[str, str, int | PlatformError | None]:
            query = (
                f"/rest/memberCreatorPostAnalytics?q=entity&entity={member_entity(urn)}"
                f"&queryType={metric}&aggregation=TOTAL"
            )
            try:
                body = await self._get(token, query, throttle_key="member")
            except (TokenError, ThrottledError):
                raise  # account-wide: gather_bounded stops the queued calls
            except PlatformError as exc:
                return urn, metric, exc
            return urn, metric, _member_count(body, metric)

        valid = [u for u in urns if u.startswith(POST_URN_PREFIXES)]
        answers = await gather_bounded(
            (partial(one, urn, metric) for urn in valid for metric in self.config.member_metrics),
            limit=self.config.member_concurrency,
        )
        results: dict[str, PostFetchResult] = {
            urn: PostFetchResult.failure(
                InvalidRequestError("not a share or ugcPost URN", provider="linkedin")
            )
            for urn in urns
            if not urn.startswith(POST_URN_PREFIXES)
        }
        metrics_of: dict[str, dict[str, int]] = {urn: {} for urn in valid}
        errors_of: dict[str, dict[str, PlatformError]] = {urn: {} for urn in valid}
        for urn, metric, value in answers:
            if isinstance(value, PlatformError):
                errors_of[urn][metric] = value
            elif value is not None:
                metrics_of[urn][metric] = value
        for urn in valid:
            metrics, errors = metrics_of[urn], errors_of[urn]
            if errors and not metrics:
                results[urn] = PostFetchResult.failure(next(iter(errors.values())),
                                                       media_type="member")  # fmt: skip
                continue
            payload: JSON = {
                "entity": urn,
                "metrics": metrics,
                "errors": {m: e.to_dict() for m, e in errors.items()},
            }
            results[urn] = PostFetchResult.success(payload, media_type="member")
        return {urn: results[urn] for urn in urns}

    # --- post details -----------------------------------------------------------------------

    async def get_ugc_post_details(
        self, token: str, post_urn: str, *, include_social_metadata: bool = True
    ) -> PostFetchResult:
        """Author, creation time, lifecycle state and media type of a post (``/rest/posts``),
        plus reaction/comment summaries from ``/rest/socialMetadata`` when asked.
        """
        try:
            post = await self._get(token, f"/rest/posts/{encode_urn(post_urn)}",
                                   throttle_key="member")  # fmt: skip
        except (TokenError, ThrottledError):
            raise
        except PlatformError as exc:
            return PostFetchResult.failure(exc)
        payload: JSON = {"post": post}
        if include_social_metadata:
            try:
                payload["socialMetadata"] = await self._get(
                    token, f"/rest/socialMetadata/{encode_urn(post_urn)}", throttle_key="member"
                )
            except (TokenError, ThrottledError):
                raise
            except PlatformError as exc:
                payload["socialMetadataError"] = exc.to_dict()
        return PostFetchResult.success(payload, media_type=linkedin_media_type(post))


def linkedin_media_type(post: JSON) -> str:
    """``TEXT``, ``IMAGE``, ``VIDEO``, ``MULTI_IMAGE``, ``ARTICLE``, ``POLL``, ``DOCUMENT``..."""
    content = post.get("content")
    if not isinstance(content, dict) or not content:
        return "TEXT"
    if isinstance(media := content.get("media"), dict):
        media_id = str(media.get("id", ""))
        for tag, kind in (("video", "VIDEO"), ("image", "IMAGE"), ("document", "DOCUMENT")):
            if f":{tag}:" in media_id:
                return kind
        return "MEDIA"
    key = str(next(iter(content)))
    return {"multiImage": "MULTI_IMAGE", "article": "ARTICLE", "poll": "POLL"}.get(key, key.upper())


def _metric_type(element: JSON) -> str | None:
    # A plain string from 2026 versions; a one-key object before that.
    value: Any = element.get("metricType")
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    return value if isinstance(value, str) else None


def _member_count(body: JSON, metric: str) -> int | None:
    counts = [
        e.get("count")
        for e in body.get("elements") or []
        if isinstance(e, dict) and _metric_type(e) in (None, metric)
    ]
    numbers = [int(c) for c in counts if isinstance(c, int | float)]
    return sum(numbers) if numbers else None


def _next_link(body: JSON) -> str | None:
    paging = body.get("paging")
    if not isinstance(paging, dict):
        return None
    for link in paging.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            href = str(link["href"])
            # Only follow relative links: never send the token to a host from a response.
            return href if href.startswith("/") else None
    return None
