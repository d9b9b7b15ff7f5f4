"""Typed platform errors in two families: transient (retry) and permanent (never retry).

Callers of the integration clients only ever see these, never raw httpx errors. Every
message passes through :func:`redact` so an access token or appsecret_proof cannot reach an
exception's ``str``/``repr`` (and from there a log line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal

from app.core import jsonfast
from app.core.error_kinds import ErrorKind
from app.core.logging import MASK, scrub

Provider = Literal["facebook", "instagram", "meta", "linkedin"]
ThrottleScope = Literal["app", "page", "account", "member"]

_REDACTED = MASK


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with tokens, proofs and bearer credentials masked.

    ``secrets`` are literal values (the token in use, its proof) that are masked wherever they
    appear, whatever the surrounding syntax.
    """
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, _REDACTED)
    return scrub(text)  # the token shapes every log line is scrubbed of, too


class PlatformError(Exception):
    """Base of every error raised by the integration clients.

    ``kind`` is the error's `ErrorKind`: what is stored and shown for the post it hit. This
    base class (an HTTP failure with no finer meaning) counts as a rejected request.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.REJECTED
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: Provider,
        code: int | str | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        trace_id: str | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.message = redact(message, secrets)[:1000]
        self.provider: Provider = provider
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        # The platform's request id (Meta ``fbtrace_id``): what its support asks for.
        self.trace_id = redact(str(trace_id), secrets)[:200] if trace_id is not None else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def _repr_extra(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        fields: dict[str, Any] = {
            "provider": self.provider,
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            **self._repr_extra(),
            "message": self.message,
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description (for storing as the fetch error of a post)."""
        return {
            "kind": self.kind.value,
            "provider": self.provider,
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "trace_id": self.trace_id,
            "message": self.message,
            **{
                k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self._repr_extra().items()
            },
        }


class TransientError(PlatformError):
    """May succeed later: 5xx, Graph codes 1/2, timeouts, connection errors, bad JSON."""

    kind = ErrorKind.TRANSIENT
    transient = True


class ThrottledError(TransientError):
    """Rate limited. ``retry_after`` is when the platform says we may try again, if known."""

    kind = ErrorKind.THROTTLED

    def __init__(
        self,
        message: str,
        *,
        provider: Provider,
        scope: ThrottleScope = "app",
        key: str | None = None,
        retry_after: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, provider=provider, **kwargs)
        self.scope: ThrottleScope = scope
        self.key = key
        self.retry_after = retry_after

    def _repr_extra(self) -> dict[str, Any]:
        return {"scope": self.scope, "key": self.key, "retry_after": self.retry_after}


class PermanentError(PlatformError):
    """Will not succeed by retrying the same request."""

    kind = ErrorKind.REJECTED


class TokenError(PermanentError):
    """The token is expired, revoked or invalid: the account must reconnect."""

    kind = ErrorKind.RECONNECT_REQUIRED


class PlatformPermissionError(PermanentError):
    """The token lacks a permission/role for this object (Graph 10, 200-299; LinkedIn 403)."""

    kind = ErrorKind.PERMISSION


class NotFoundError(PermanentError):
    """The object is deleted, unknown, or invisible to this token."""

    kind = ErrorKind.NOT_FOUND


class NoStatisticsError(NotFoundError):
    """The platform answered but had no statistics for this post (e.g. too old, not owned)."""

    kind = ErrorKind.NO_DATA


class InvalidMetricError(PermanentError):
    """A requested insights metric is retired or unsupported for this media type.

    ``metric`` is the rejected name when the platform said it; ``metric_index`` when it only
    gave the position (``metric[2]``) in the requested list.
    """

    kind = ErrorKind.INVALID_METRIC

    def __init__(
        self,
        message: str,
        *,
        provider: Provider,
        metric: str | None = None,
        metric_index: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, provider=provider, **kwargs)
        self.metric = metric
        self.metric_index = metric_index

    def _repr_extra(self) -> dict[str, Any]:
        return {"metric": self.metric, "metric_index": self.metric_index}


class InvalidRequestError(PermanentError):
    """Any other rejected request (bad parameter, ...)."""

    kind = ErrorKind.REJECTED


# --- publishing -----------------------------------------------------------------------------


class OutcomeUnknownError(PlatformError):
    """A create request may have reached the platform and no usable answer came back.

    Raised by a publisher's ``create`` for a read timeout, a connection lost after the request
    was sent, a 5xx, or a malformed 2xx. It is neither transient nor permanent: the post may
    exist, so the caller reconciles (looks the post up) before anything else and never simply
    sends the create again. (A connect error or pool timeout is a `TransientError`: nothing was
    sent.)
    """

    kind = ErrorKind.OUTCOME_UNKNOWN


class PublishRefusedError(PermanentError):
    """A create the platform refused with a reason the product names (policy, duplicate, spam).

    ``may_mean_posted``: the refusal is known to follow, at times, a create that *did* publish
    (an earlier attempt's post seen as a duplicate; Instagram's spam block answered after the
    media went live). The caller reconciles before failing the target on such an error.
    """

    may_mean_posted: ClassVar[bool] = False


class PolicyError(PublishRefusedError):
    """Refused under the platform's policies (Graph 368)."""

    kind = ErrorKind.POLICY


class DuplicateError(PublishRefusedError):
    """Refused as a duplicate of a recent post (Graph 506, LinkedIn 422 ``DUPLICATE_POST``).

    ``existing_id`` is the post the platform named as the original (LinkedIn names its URN;
    Graph names none). On a retry it may be the post our earlier attempt created.
    """

    kind = ErrorKind.DUPLICATE
    may_mean_posted = True

    def __init__(
        self, message: str, *, provider: Provider, existing_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, provider=provider, **kwargs)
        self.existing_id = existing_id

    def _repr_extra(self) -> dict[str, Any]:
        return {"existing_id": self.existing_id}


class SpamError(PublishRefusedError):
    """Blocked as spam (Instagram code 4 / subcode 2207051); seen after a publish that worked."""

    kind = ErrorKind.SPAM
    may_mean_posted = True


class MediaError(PermanentError):
    """A media file cannot be used: unreachable, refused address, wrong type or size, or the
    platform failed to process it (Instagram container ``ERROR``, LinkedIn
    ``PROCESSING_FAILED``)."""

    kind = ErrorKind.MEDIA


class QuotaError(ThrottledError):
    """The account's publishing quota is used up (Instagram code 9 / 2207042)."""

    kind = ErrorKind.QUOTA


# --- classification -----------------------------------------------------------------------

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


def classify_linkedin_error(
    status: int,
    body: Any,
    *,
    secrets: Iterable[str | None] = (),
    throttle_key: str | None = None,
    retry_after: datetime | None = None,
) -> PlatformError:
    """Map a LinkedIn REST error (status + ``{"status","serviceErrorCode","message"}``)."""
    if isinstance(body, bytes | str):
        body = jsonfast.loads_or(body)
    data = body if isinstance(body, dict) else {}
    message = str(data.get("message") or f"HTTP {status} from LinkedIn")
    common: dict[str, Any] = {
        "provider": "linkedin",
        "code": data.get("serviceErrorCode") or data.get("code"),
        "http_status": status,
        "secrets": secrets,
    }
    if status == 401:
        return TokenError(message, **common)
    if status == 403:
        return PlatformPermissionError(message, **common)
    if status == 404:
        return NotFoundError(message, **common)
    if status == 429:
        return ThrottledError(
            message, scope="member", key=throttle_key, retry_after=retry_after, **common
        )
    if status >= 500 or status in (408, 425):
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


_LINKEDIN_POST_URN_RE = re.compile(r"urn:li:(?:share|ugcPost):\d+")


def classify_linkedin_publish_error(
    status: int,
    body: Any,
    *,
    secrets: Iterable[str | None] = (),
    throttle_key: str | None = None,
    retry_after: datetime | None = None,
) -> PlatformError:
    """A LinkedIn error reply to a publishing call: 422 ``DUPLICATE_POST`` is a
    `DuplicateError` naming the existing post's URN (only share/ugcPost URNs are taken; the
    research saw a person URN in the message too); the rest as any LinkedIn error."""
    if isinstance(body, bytes | str):
        body = jsonfast.loads_or(body)
    data = body if isinstance(body, dict) else {}
    details = data.get("errorDetails")
    inputs = details.get("inputErrors") if isinstance(details, dict) else None
    codes = {e.get("code") for e in inputs or () if isinstance(e, dict)}
    if status == 422 and "DUPLICATE_POST" in codes:
        message = str(data.get("message") or "duplicate post")
        named = _LINKEDIN_POST_URN_RE.search(message)
        return DuplicateError(
            message,
            provider="linkedin",
            code="DUPLICATE_POST",
            http_status=status,
            secrets=secrets,
            existing_id=named.group(0) if named else None,
        )
    return classify_linkedin_error(
        status, data or body, secrets=secrets, throttle_key=throttle_key, retry_after=retry_after
    )
