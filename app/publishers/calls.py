"""Sending publishing requests: the irreversible create once, everything else with retries.

`send_create` sorts every failure by whether the request can have reached the platform:
nothing sent (connect error, connect or pool timeout) -> `TransientError`, safe to send again;
sent and no usable answer (read/write timeout, reset, protocol error, 5xx) ->
`OutcomeUnknownError`; a 4xx -> the platform's refusal, classified by its home. It never
retries. `send_safe` is for redo-safe calls (uploads, containers, reads): transient failures
are retried with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from app.core import jsonfast
from app.integrations.errors import OutcomeUnknownError, PlatformError, Provider, TransientError
from app.integrations.http import RetryPolicy, call_with_retry, parse_retry_after, send_request
from app.integrations.platforms import ErrorReply

Classify = Callable[[ErrorReply], PlatformError]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _reply(response: httpx.Response, secrets: Iterable[str | None]) -> ErrorReply:
    return ErrorReply(
        status=response.status_code,
        body=response.content,
        secrets=tuple(secrets),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


async def send_create(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    provider: Provider,
    classify: Classify,
    secrets: Iterable[str | None] = (),
) -> httpx.Response:
    """Send the create call once; a 2xx response, or the typed error (see the module)."""
    secrets = tuple(secrets)
    try:
        response = await client.send(request)
    except _NOT_SENT as exc:
        raise TransientError(
            f"could not reach {provider}; the post was not sent ({type(exc).__name__})",
            provider=provider,
            secrets=secrets,
        ) from None
    except httpx.TransportError as exc:
        raise OutcomeUnknownError(
            f"no answer from {provider} after the post was sent ({type(exc).__name__})",
            provider=provider,
            secrets=secrets,
        ) from None
    if response.status_code >= 500:
        refusal = classify(_reply(response, secrets))
        raise OutcomeUnknownError(
            f"{provider} answered HTTP {response.status_code} after the post was sent: "
            f"{refusal.message}",
            provider=provider,
            code=refusal.code,
            subcode=refusal.subcode,
            http_status=response.status_code,
            trace_id=refusal.trace_id,
            secrets=secrets,
        )
    if response.status_code >= 400:
        raise classify(_reply(response, secrets))
    return response


def malformed_create_reply(provider: Provider, response: httpx.Response) -> OutcomeUnknownError:
    """A 2xx to a create call that does not say which post it made: the post may exist."""
    return OutcomeUnknownError(
        f"{provider} accepted the post (HTTP {response.status_code}) but its reply names no post",
        provider=provider,
        http_status=response.status_code,
    )


async def send_safe(
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    *,
    provider: Provider,
    classify: Classify,
    retry: RetryPolicy,
    secrets: Iterable[str | None] = (),
) -> httpx.Response:
    """Send a redo-safe request (built afresh per try), retrying transient failures."""
    secrets = tuple(secrets)

    async def attempt() -> httpx.Response:
        response = await send_request(client, build(), provider=provider, secrets=secrets)
        if response.status_code >= 400:
            raise classify(_reply(response, secrets))
        return response

    return await call_with_retry(retry, attempt)


def json_object(response: httpx.Response, *, provider: Provider) -> dict[str, Any]:
    """A 2xx body that must be a JSON object (empty object for an empty body)."""
    if not response.content:
        return {}
    try:
        body = jsonfast.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransientError(
            f"malformed reply from {provider} (HTTP {response.status_code})",
            provider=provider,
            http_status=response.status_code,
        )
    return body
