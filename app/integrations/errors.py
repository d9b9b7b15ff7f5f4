"""Typed platform errors in two families: transient (retry) and permanent (never retry).

Callers of the integration clients only ever see these, never raw httpx errors. Every
message passes through :func:`redact` so an access token or appsecret_proof cannot reach an
exception's ``str``/``repr`` (and from there a log line).

These classes are the product's vocabulary; which platform reply becomes which class is each
platform's knowledge, kept with its home (`app.integrations.platforms.meta_errors`,
`app.integrations.platforms.linkedin_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal

from app.core.error_kinds import ErrorKind
from app.core.logging import MASK, scrub

Provider = Literal["facebook", "instagram", "meta", "linkedin"]
# "workspace": one workspace's share of an app-wide quota (see app.integrations.limits).
ThrottleScope = Literal["app", "workspace", "page", "account", "member"]

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
    """Rate limited. ``retry_after`` is when the platform says we may try again, if known.

    ``retry_soon``: whether, without such a hint, a retry after a short backoff can succeed
    (a burst limit). A daily quota (LinkedIn's 429) cannot: retrying only spends another call
    against it, so the error goes straight to the caller, which parks the key.
    """

    kind = ErrorKind.THROTTLED

    def __init__(
        self,
        message: str,
        *,
        provider: Provider,
        scope: ThrottleScope = "app",
        key: str | None = None,
        retry_after: datetime | None = None,
        retry_soon: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, provider=provider, **kwargs)
        self.scope: ThrottleScope = scope
        self.key = key
        self.retry_after = retry_after
        self.retry_soon = retry_soon

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


class ApiVersionError(PermanentError):
    """The platform does not serve the API version our settings pin (LinkedIn 426
    ``NONEXISTENT_VERSION``): every call fails until the operator changes the setting."""

    kind = ErrorKind.API_VERSION_INACTIVE


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
