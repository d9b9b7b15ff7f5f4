"""How LinkedIn REST error replies become typed errors.

LinkedIn's statuses and error codes are its knowledge, so they live with its home; the typed
errors they become (`app.integrations.errors`) are the product's vocabulary. A leaf module
(core and the error classes only), so the LinkedIn transports classify without the home.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.core import jsonfast
from app.integrations.errors import (
    ApiVersionError,
    DuplicateError,
    InvalidRequestError,
    NotFoundError,
    PlatformError,
    PlatformPermissionError,
    ThrottledError,
    TokenError,
    TransientError,
)

__all__ = ["classify_linkedin_error"]

_POST_URN_RE = re.compile(r"urn:li:(?:share|ugcPost):\d+")
# What the operator does about a 426: LinkedIn serves each monthly version for at least a
# year (learn.microsoft.com/linkedin/marketing/versioning).
_VERSION_ADVICE = (
    " (LinkedIn does not serve the version in LINKEDIN_API_VERSION: set it to an active"
    " YYYYMM version; each is served for at least a year after its release)"
)


def classify_linkedin_error(
    status: int,
    body: Any,
    *,
    publishing: bool = False,
    secrets: Iterable[str | None] = (),
    throttle_key: str | None = None,
    retry_after: datetime | None = None,
) -> PlatformError:
    """Map a LinkedIn REST error (status + ``{"status","serviceErrorCode","message"}``).

    ``publishing``: the reply answered a publishing call, where 422 ``DUPLICATE_POST`` is a
    `DuplicateError` naming the existing post's URN (only share/ugcPost URNs are taken; the
    research saw a person URN in the message too).
    """
    if isinstance(body, bytes | str):
        body = jsonfast.loads_or(body)
    data = body if isinstance(body, dict) else {}
    if publishing and (duplicate := _duplicate_post(status, data, secrets)) is not None:
        return duplicate
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
    if status == 426:
        return ApiVersionError(f"{message}{_VERSION_ADVICE}", **common)
    if status == 429:
        # Daily quotas (reset at 00:00 UTC): without a Retry-After, retrying soon cannot help.
        return ThrottledError(
            message,
            scope="member",
            key=throttle_key,
            retry_after=retry_after,
            retry_soon=False,
            **common,
        )
    if status >= 500 or status in (408, 425):
        return TransientError(message, **common)
    return InvalidRequestError(message, **common)


def _duplicate_post(
    status: int, data: dict[str, Any], secrets: Iterable[str | None]
) -> DuplicateError | None:
    details = data.get("errorDetails")
    inputs = details.get("inputErrors") if isinstance(details, dict) else None
    codes = {e.get("code") for e in inputs or () if isinstance(e, dict)}
    if status != 422 or "DUPLICATE_POST" not in codes:
        return None
    message = str(data.get("message") or "duplicate post")
    named = _POST_URN_RE.search(message)
    return DuplicateError(
        message,
        provider="linkedin",
        code="DUPLICATE_POST",
        http_status=status,
        secrets=secrets,
        existing_id=named.group(0) if named else None,
    )
