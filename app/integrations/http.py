"""Shared HTTP plumbing for the platform clients.

- :func:`make_async_client`: the one pooled ``httpx.AsyncClient`` a platform client wraps.
- :class:`RetryPolicy` / :func:`call_with_retry`: stamina-based retries of
  :class:`~app.integrations.errors.TransientError` only, honouring ``retry_after`` hints (a
  throttle without a hint is retried only when it says ``retry_soon``).
- :func:`send_request`: turns httpx exceptions into typed errors (never leaking the URL).
- :func:`gather_all` / :func:`gather_bounded`: concurrent calls that stop at the first
  failure (and, bounded, send nothing more once the account is known to be unusable).
- Re-exported from :mod:`app.integrations.limits`: :func:`parse_meta_usage`,
  :class:`MetaUsage`, :class:`KeyedLimiter`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import stamina

from app.core import jsonfast
from app.core.clock import utcnow
from app.integrations.errors import (
    PlatformError,
    Provider,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.limits import BusinessUsage, KeyedLimiter, MetaUsage, parse_meta_usage

__all__ = [
    "BusinessUsage",
    "KeyedLimiter",
    "MetaUsage",
    "RetryPolicy",
    "call_with_retry",
    "decode_json",
    "gather_all",
    "gather_bounded",
    "make_async_client",
    "parse_meta_usage",
    "parse_retry_after",
    "send_request",
]

T = TypeVar("T")


def make_async_client(
    base_url: str,
    timeout: float = 20.0,
    max_connections: int = 20,
    *,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Build the pooled HTTP/1.1 client one platform client shares across all calls.

    ``timeout`` is the read/write/pool budget; connecting gets at most 10 s of it.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        http1=True,
        http2=False,
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
    )


# --- retries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds for retrying transient errors; beyond them the error reaches the caller.

    ``max_retry_after_s``: a throttle hint longer than this is not slept on; the
    :class:`ThrottledError` is raised so the poller can park the key instead.
    """

    attempts: int = 4
    timeout_s: float = 30.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 8.0
    wait_jitter_s: float = 1.0
    max_retry_after_s: float = 60.0


def _retry_hook(policy: RetryPolicy) -> Callable[[Exception], bool | float | timedelta]:
    started = time.monotonic()

    def hook(exc: Exception) -> bool | float | timedelta:
        if not isinstance(exc, TransientError):
            return False
        if not isinstance(exc, ThrottledError):
            return True
        if exc.retry_after is None:
            return exc.retry_soon  # a quota that resets in hours is not retried here
        wait = max((exc.retry_after - utcnow()).total_seconds(), 0.0)
        elapsed = time.monotonic() - started
        # A long hint is not slept on: the caller parks the key instead.
        if wait > policy.max_retry_after_s or elapsed + wait > policy.timeout_s:
            return False
        return wait

    return hook


async def call_with_retry(policy: RetryPolicy, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` retrying only :class:`TransientError`, with exponential backoff + jitter.

    Honors ``ThrottledError.retry_after``. Permanent errors propagate at once.
    """
    async for attempt in stamina.retry_context(
        on=_retry_hook(policy),
        attempts=policy.attempts,
        timeout=policy.timeout_s,
        wait_initial=policy.wait_initial_s,
        wait_max=policy.wait_max_s,
        wait_jitter=policy.wait_jitter_s,
    ):
        with attempt:
            return await fn()
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """Parse a ``Retry-After`` header (delta seconds or HTTP date) into an absolute time."""
    if not value:
        return None
    now = now or utcnow()
    value = value.strip()
    try:
        return now + timedelta(seconds=max(float(value), 0.0))
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def send_request(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    provider: Provider,
    secrets: Iterable[str | None] = (),
) -> httpx.Response:
    """Send ``request`` and translate transport failures into :class:`TransientError`.

    The httpx exception is dropped (``from None``): its text and request carry the URL,
    which for Graph includes ``access_token``.
    """
    try:
        return await client.send(request)
    except httpx.TimeoutException as exc:
        msg = f"timeout talking to {provider} ({type(exc).__name__})"
        raise TransientError(msg, provider=provider, secrets=secrets) from None
    except httpx.TransportError as exc:
        # TransientError redacts the whole message (``secrets`` and token shapes).
        msg = f"connection error talking to {provider} ({type(exc).__name__}: {exc})"
        raise TransientError(msg, provider=provider, secrets=secrets) from None
    except httpx.HTTPError as exc:
        msg = f"HTTP error talking to {provider} ({type(exc).__name__})"
        raise PlatformError(msg, provider=provider, secrets=secrets) from None


def decode_json(response: httpx.Response, *, provider: Provider) -> Any:
    """Parse a 2xx body; malformed JSON is transient (truncated/proxy pages happen)."""
    try:
        return jsonfast.loads(response.content)
    except ValueError:
        raise TransientError(
            f"malformed JSON from {provider} (HTTP {response.status_code})",
            provider=provider,
            http_status=response.status_code,
        ) from None


async def gather_all(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``coros`` concurrently; on the first failure cancel the rest and raise it.

    Unlike ``asyncio.gather`` no sibling keeps sending requests after, e.g., a token error,
    and unlike a bare ``TaskGroup`` the caller gets the typed error, not an ExceptionGroup.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
    except BaseExceptionGroup as eg:
        first = eg.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]


async def gather_bounded(
    factories: Iterable[Callable[[], Awaitable[T]]],
    *,
    limit: int,
    stop_on: tuple[type[Exception], ...] = (TokenError, ThrottledError),
) -> list[T]:
    """Run the calls ``factories`` make, at most ``limit`` at a time, like :func:`gather_all`.

    A ``stop_on`` error (account-wide: the token is dead, the account is throttled) is
    recorded, and every call still waiting for a slot raises it instead of sending a request.
    """
    semaphore = asyncio.Semaphore(max(1, limit))
    fatal: list[Exception] = []

    async def run(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            if fatal:
                raise fatal[0]
            try:
                return await factory()
            except stop_on as exc:
                fatal.append(exc)
                raise

    return await gather_all(run(factory) for factory in factories)
