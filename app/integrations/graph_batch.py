"""Graph API transport: batch requests, paging, appsecret_proof, usage headers, retries.

One :class:`GraphTransport` wraps the shared ``httpx.AsyncClient``. :meth:`GraphTransport.batch`
sends up to ``max_batch`` GET sub-requests per HTTP call; every item succeeds or fails on its
own, and items failing transiently are re-sent (only those) within the retry budget.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import httpx
import structlog

from app.core import jsonfast
from app.core.clock import utcnow
from app.integrations.errors import (
    PlatformError,
    Provider,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.http import (
    KeyedLimiter,
    MetaUsage,
    RetryPolicy,
    call_with_retry,
    decode_json,
    gather_all,
    parse_meta_usage,
    parse_retry_after,
    send_request,
)
from app.integrations.limits import quota_caller
from app.integrations.platforms.meta_errors import classify_graph_error
from app.integrations.types import JSON

log = structlog.get_logger(__name__)

_VERSIONED_PATH_RE = re.compile(r"/v\d+\.\d+/(.*)$")


def appsecret_proof(token: str, app_secret: str) -> str:
    """Hex HMAC-SHA256 of the access token keyed by the app secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class GraphItem:
    """One sub-request's outcome: a parsed JSON object or a typed error."""

    body: JSON | None
    error: PlatformError | None
    status: int | None = None


class _ItemsPending(TransientError):
    """Internal: some batch items failed transiently and are worth re-sending."""


class GraphTransport:
    """Low-level Graph access shared by the Facebook and Instagram fetchers."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_version: str,
        app_secret: str | None = None,
        retry: RetryPolicy | None = None,
        max_batch: int = 50,
        max_concurrency: int = 4,
        limiter: KeyedLimiter | None = None,
    ) -> None:
        self._http = http
        self.api_version = api_version
        self._app_secret = app_secret
        self._retry = retry or RetryPolicy()
        self.max_batch = max(1, min(max_batch, 50))
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self._limiter = limiter

    def _auth(self, token: str) -> dict[str, str]:
        auth = {"access_token": token}
        if self._app_secret:
            auth["appsecret_proof"] = appsecret_proof(token, self._app_secret)
        return auth

    def _secrets(self, token: str) -> tuple[str, ...]:
        return tuple(self._auth(token).values())

    async def batch(
        self,
        token: str,
        relative_urls: Sequence[str],
        *,
        provider: Provider,
        usage_key: str | None = None,
    ) -> list[GraphItem]:
        """Run GET ``relative_urls`` (``"{id}?fields=..."``) as batches of ``max_batch``.

        Returns one :class:`GraphItem` per URL, in order. Raises only :class:`TokenError`
        (the whole account is unusable). When the account is throttled part-way, items
        already fetched are kept and the rest carry the :class:`ThrottledError`.
        """
        chunks = [
            list(relative_urls[i : i + self.max_batch])
            for i in range(0, len(relative_urls), self.max_batch)
        ]
        fatal: list[PlatformError] = []  # an account-wide error stops queued chunks at once
        results = await gather_all(
            self._batch_chunk(token, chunk, provider, usage_key, fatal) for chunk in chunks
        )
        return [item for chunk_result in results for item in chunk_result]

    async def _batch_chunk(
        self,
        token: str,
        urls: list[str],
        provider: Provider,
        usage_key: str | None,
        fatal: list[PlatformError],
    ) -> list[GraphItem]:
        results: dict[int, GraphItem] = {}  # index in ``urls`` -> outcome
        pending = list(range(len(urls)))

        async def attempt() -> None:
            nonlocal pending
            items = await self._post_batch(token, [urls[i] for i in pending], provider, usage_key)
            still: list[int] = []
            for index, item in zip(pending, items, strict=True):
                results[index] = item
                retryable = isinstance(item.error, TransientError) and not isinstance(
                    item.error, ThrottledError
                )
                if retryable:
                    still.append(index)
            pending = still
            if still:
                raise _ItemsPending(
                    f"{len(still)} batch items failed transiently", provider=provider
                )

        async with self._semaphore:
            if fatal:
                if isinstance(fatal[0], ThrottledError):
                    # Throttled mid-way: keep what earlier chunks fetched; the rest waits.
                    return [GraphItem(None, fatal[0]) for _ in urls]
                raise fatal[0]
            try:
                await call_with_retry(self._retry, attempt)
            except _ItemsPending:
                pass  # the last per-item transient errors stay in ``results``
            except ThrottledError as exc:
                fatal.append(exc)
                for index in pending:
                    results[index] = GraphItem(None, exc)
            except TokenError as exc:
                fatal.append(exc)
                raise
            except PlatformError as exc:
                # A whole-chunk failure (e.g. 5xx after retries) fails only this chunk.
                for index in pending:
                    results[index] = GraphItem(None, exc)
        # Every path above gave each index an outcome: the first attempt answers all of them
        # (or fails, and then ``pending`` is still all of them).
        return [results[index] for index in range(len(urls))]

    async def _post_batch(
        self, token: str, urls: list[str], provider: Provider, usage_key: str | None
    ) -> list[GraphItem]:
        form = {"include_headers": "false", **self._auth(token)}
        request = self._http.build_request(
            "POST",
            f"/{self.api_version}/",
            content=f"batch={encode_batch_field(urls)}&{urlencode(form)}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = await self._send(request, token, provider, usage_key, calls=len(urls))
        body = decode_json(response, provider=provider)
        if not isinstance(body, list) or len(body) != len(urls):
            raise TransientError("malformed batch reply from Graph API", provider=provider)
        return [self._parse_item(raw, token, provider, usage_key) for raw in body]

    async def _send(
        self,
        request: httpx.Request,
        token: str,
        provider: Provider,
        usage_key: str | None,
        *,
        calls: int = 1,
    ) -> httpx.Response:
        """Send one request; ``calls`` is what it costs on Graph's counters (each batch item
        counts), counted on the current :class:`QuotaCaller`."""
        caller = quota_caller.get()
        if self._limiter is not None:
            await self._limiter.acquire(*self._limiter.keys_for(usage_key, caller))
        if caller is not None:
            caller.calls += calls
        response = await send_request(
            self._http, request, provider=provider, secrets=self._secrets(token)
        )
        usage = self._observe_usage(response.headers, usage_key)
        if response.status_code >= 400:
            raise self._error(
                response.status_code,
                response.content,
                response.headers,
                usage,
                token,
                provider,
                usage_key,
            )
        return response

    def _observe_usage(self, headers: Mapping[str, str], usage_key: str | None) -> MetaUsage | None:
        usage = parse_meta_usage(headers)
        if usage is None:
            return None
        caller = quota_caller.get()
        if self._limiter is not None:
            self._limiter.observe_meta_usage(usage_key or "app", usage, caller)
        elif caller is not None and usage.app_percent is not None and not usage.page_level:
            caller.app_scoped = True
            caller.app_percent = max(usage.app_percent, caller.app_percent or 0.0)
        if usage.max_percent >= 75:
            log.info(
                "insights.fetch.usage_high",
                key=usage_key,
                percent=usage.max_percent,
                regain_minutes=usage.regain_access_minutes,
            )
        return usage

    def _error(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str],
        usage: MetaUsage | None,
        token: str,
        provider: Provider,
        usage_key: str | None,
    ) -> PlatformError:
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is None and usage is not None and usage.regain_access_minutes > 0:
            retry_after = utcnow() + timedelta(minutes=usage.regain_access_minutes)
        error = classify_graph_error(
            status,
            body,
            provider=provider,
            secrets=self._secrets(token),
            throttle_key=usage_key,
            retry_after=retry_after,
        )
        if isinstance(error, ThrottledError):
            if error.scope == "app" and (caller := quota_caller.get()) is not None:
                caller.app_scoped = True  # app-level limits answer only app-scoped calls
            log.warning(
                "insights.fetch.throttled",
                provider=provider,
                key=usage_key,
                code=error.code,
                retry_after=retry_after,
            )
        return error

    def _parse_item(
        self, raw: Any, token: str, provider: Provider, usage_key: str | None
    ) -> GraphItem:
        if not isinstance(raw, dict):
            # Graph answers ``null`` for sub-requests it did not get to (timeouts).
            return GraphItem(None, TransientError("batch item did not complete", provider=provider))
        status = raw.get("code")
        status = status if isinstance(status, int) else None
        body = raw.get("body")
        if status is None or status >= 400:
            # No per-item headers: ``_post_batch`` asks for none (the usage headers of the
            # batch response itself are what the limiter reads).
            error = self._error(status or 500, body, {}, None, token, provider, usage_key)
            return GraphItem(None, error, status)
        parsed = jsonfast.loads_or(body) if isinstance(body, str) else body
        if not isinstance(parsed, dict):
            error = TransientError(
                "malformed batch item body", provider=provider, http_status=status
            )
            return GraphItem(None, error, status)
        return GraphItem(parsed, None, status)

    async def get_next_page(
        self,
        token: str,
        next_url: str,
        *,
        provider: Provider,
        usage_key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> JSON:
        """Follow a ``paging.next`` URL against *our* base URL with *our* credentials.

        Only the path and non-credential query parameters of ``next_url`` are used, so a
        token is never sent to a host taken from a response. ``retry`` overrides the
        transport's policy (an optional page is worth one attempt, not a backoff).
        """
        parts = urlsplit(next_url)
        versioned = _VERSIONED_PATH_RE.search(parts.path)
        rest = versioned.group(1) if versioned else parts.path.lstrip("/")
        path = f"/{self.api_version}/{rest}"
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in ("access_token", "appsecret_proof")
        ]
        url = f"{path}?{urlencode(query + list(self._auth(token).items()))}"

        async def attempt() -> JSON:
            request = self._http.build_request("GET", url)
            response = await self._send(request, token, provider, usage_key)
            body = decode_json(response, provider=provider)
            if not isinstance(body, dict):
                raise TransientError("malformed page from Graph API", provider=provider)
            return body

        return await call_with_retry(retry or self._retry, attempt)


# --- the `batch` form field ------------------------------------------------------------------

_ITEM_HEAD = quote_plus('{"method":"GET","relative_url":')


@functools.lru_cache(maxsize=512)
def _quoted_tail(text: str) -> str:
    return quote_plus(text)


def encode_batch_field(relative_urls: Sequence[str]) -> str:
    """``quote_plus(json.dumps([{"method": "GET", "relative_url": url}, ...]))``, faster.

    Percent-encoding the batch form field character by character in pure Python was ~7 % of
    the poller's CPU: every item repeats the same long field expansion. Percent-encoding maps
    each character on its own, so the encoded field is the concatenation of its encoded
    pieces, and the part of each URL after ``?`` (the same for every post of a kind) is
    encoded once and cached.
    """
    items = []
    for url in relative_urls:
        head, sep, tail = jsonfast.dumps(url).partition("?")
        items.append(f"{_ITEM_HEAD}{quote_plus(head + sep)}{_quoted_tail(tail)}%7D")
    return f"%5B{'%2C'.join(items)}%5D"
