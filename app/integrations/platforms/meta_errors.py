"""How Graph API error replies (Facebook and Instagram) become typed errors.

Graph's codes and subcodes are Meta's knowledge, so they live with the Meta homes; the
typed errors they become (`app.integrations.errors`) are the product's vocabulary. This is a
leaf module (it imports only core and the error classes) so the Graph transport can classify
without importing the homes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.core import jsonfast
from app.integrations.errors import (
    DuplicateError,
    InvalidMetricError,
    InvalidRequestError,
    MediaError,
    NotFoundError,
    PlatformError,
    PlatformPermissionError,
    PolicyError,
    Provider,
    QuotaError,
    SpamError,
    ThrottledError,
    ThrottleScope,
    TokenError,
    TransientError,
)

__all__ = ["classify_graph_error", "classify_graph_publish_error"]

_GRAPH_TRANSIENT_CODES = frozenset({1, 2})
_GRAPH_TOKEN_CODES = frozenset({102, 190})
_GRAPH_PERMISSION_CODES = frozenset({3, 10}) | frozenset(range(200, 300))
_GRAPH_THROTTLE_SCOPES: dict[int, ThrottleScope] = {
    4: "app",
    17: "account",
    32: "page",
    341: "app",
    613: "app",
    80001: "page",
    80002: "account",
}
_METRIC_NAME_PATTERNS = (
    re.compile(r"does not support the ['\"]?([A-Za-z0-9_]+)['\"]? metric"),
    re.compile(r"\bthe ([a-z][a-z0-9_]+) metric is no longer supported"),
    re.compile(r"\bmetric ['\"]?([a-z][a-z0-9_]+)['\"]? is not supported"),
    re.compile(r"(?i)\binvalid (?:insights )?metrics?\s*[:=]?\s*\(?['\"]?([a-z][a-z0-9_]+)"),
    re.compile(r"\b([a-z][a-z0-9_]+)['\"]? is not a valid (?:insights )?metric"),
)
_METRIC_INDEX_RE = re.compile(r"metric\[(\d+)\]")


def _graph_error_dict(body: Any) -> dict[str, Any]:
    """Extract Graph's ``{"error": {...}}`` object from a parsed or raw body."""
    if isinstance(body, bytes | str):
        body = jsonfast.loads_or(body)
    if isinstance(body, dict) and isinstance(error := body.get("error"), dict):
        return error
    return {}


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _metric_from_message(message: str) -> tuple[str | None, int | None]:
    for pattern in _METRIC_NAME_PATTERNS:
        if match := pattern.search(message):
            return match.group(1), None
    if match := _METRIC_INDEX_RE.search(message):
        return None, int(match.group(1))
    return None, None


def _graph_parts(
    status: int | None, body: Any, provider: Provider, secrets: Iterable[str | None]
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The error object, its message and the constructor fields every Graph error gets."""
    err = _graph_error_dict(body)
    message = str(err.get("message") or f"HTTP {status} from Graph API")
    common: dict[str, Any] = {
        "provider": provider,
        "code": _as_int(err.get("code")),
        "subcode": _as_int(err.get("error_subcode")),
        "http_status": status,
        "trace_id": err.get("fbtrace_id"),
        "secrets": secrets,
    }
    return err, message, common


def classify_graph_error(
    status: int | None,
    body: Any,
    *,
    provider: Provider = "meta",
    secrets: Iterable[str | None] = (),
    throttle_key: str | None = None,
    retry_after: datetime | None = None,
) -> PlatformError:
    """Map a Graph API error response (HTTP status + body) to a typed error.

    ``body`` may be the parsed JSON, the raw bytes or text, or ``None``. ``retry_after`` is a
    hint the caller derived from headers (``Retry-After``, usage
    ``estimated_time_to_regain_access``).
    """
    err, message, common = _graph_parts(status, body, provider, secrets)
    code, subcode = common["code"], common["subcode"]
    if code is None:
        if status is not None and (status >= 500 or status in (408, 425)):
            return TransientError(message, **common)
        if status == 429:
            return ThrottledError(
                message, scope="app", key=throttle_key, retry_after=retry_after, **common
            )
        if status in (401,):
            return TokenError(message, **common)
        if status == 404:
            return NotFoundError(message, **common)
        return InvalidRequestError(message, **common)
    if code in _GRAPH_TRANSIENT_CODES:
        return TransientError(message, **common)
    if code in _GRAPH_THROTTLE_SCOPES or 80000 <= code <= 80014:
        scope = _GRAPH_THROTTLE_SCOPES.get(code, "account")
        return ThrottledError(
            message, scope=scope, key=throttle_key, retry_after=retry_after, **common
        )
    if code in _GRAPH_TOKEN_CODES:
        return TokenError(message, **common)
    if code in _GRAPH_PERMISSION_CODES:
        return PlatformPermissionError(message, **common)
    if code == 100 and "metric" in message.lower():
        metric, index = _metric_from_message(message)
        return InvalidMetricError(message, metric=metric, metric_index=index, **common)
    lowered = message.lower()
    if code == 803 or (
        code == 100
        and (subcode == 33 or "does not exist" in lowered or "unsupported get request" in lowered)
    ):
        return NotFoundError(message, **common)
    if status is not None and status >= 500:
        return TransientError(message, **common)
    return InvalidRequestError(message, **common)


# --- publishing classification ----------------------------------------------------------------
# Graph replies to create calls (Pages and Instagram). Sources: the Instagram error-codes
# reference and peers' handling, as gathered in docs/design/publishing-platform-facts.md §1.6,
# §2.3, §2.6.

# "Try again" / "generate a new container": safe to send again (a new container is a redo of
# a preparing step). 2207027 is media_publish before the container is FINISHED.
_GRAPH_PUBLISH_TRANSIENT_SUBCODES = frozenset(
    {2207001, 2207003, 2207008, 2207020, 2207027, 2207032, 2207053, 2207082}
)
# The file itself cannot be used (size, format, aspect ratio, unreachable, Facebook 1366046).
_GRAPH_MEDIA_SUBCODES = frozenset(
    {1366046, 2207004, 2207005, 2207006, 2207009, 2207023, 2207026, 2207028, 2207052, 2207057}
)
_GRAPH_DUPLICATE_SUBCODES = frozenset({1366051})  # "These photos were already posted"
_GRAPH_SPAM_SUBCODE = 2207051
_GRAPH_QUOTA_SUBCODE = 2207042
_GRAPH_POSTING_TOO_FAST_SUBCODE = 1390008


def classify_graph_publish_error(
    status: int | None,
    body: Any,
    *,
    provider: Provider,
    secrets: Iterable[str | None] = (),
    throttle_key: str | None = None,
    retry_after: datetime | None = None,
) -> PlatformError:
    """A Graph error reply to a publishing call, with the publishing meanings first.

    Codes that only publishing meets (368 policy, 506 duplicate, Instagram subcodes) are
    named here; everything else is classified as any Graph error. Code 4 with subcode 2207051
    is the spam block, not the app-wide throttle code 4 usually means. ``is_transient: true``
    is respected.
    """
    err, message, common = _graph_parts(status, body, provider, secrets)
    code, subcode = common["code"], common["subcode"]
    if code == 368:
        return PolicyError(message, **common)
    if code == 506 or subcode in _GRAPH_DUPLICATE_SUBCODES:
        return DuplicateError(message, **common)
    if subcode == _GRAPH_SPAM_SUBCODE:
        return SpamError(message, **common)
    if subcode == _GRAPH_QUOTA_SUBCODE:
        return QuotaError(
            message, scope="account", key=throttle_key, retry_after=retry_after, **common
        )
    if subcode == _GRAPH_POSTING_TOO_FAST_SUBCODE:
        return ThrottledError(
            message, scope="account", key=throttle_key, retry_after=retry_after, **common
        )
    if subcode in _GRAPH_PUBLISH_TRANSIENT_SUBCODES:
        return TransientError(message, **common)
    if subcode in _GRAPH_MEDIA_SUBCODES or (code is not None and 36000 <= code <= 36003):
        return MediaError(message, **common)
    error = classify_graph_error(
        status,
        body,
        provider=provider,
        secrets=secrets,
        throttle_key=throttle_key,
        retry_after=retry_after,
    )
    if err.get("is_transient") is True and not error.transient:
        return TransientError(message, **common)
    return error
