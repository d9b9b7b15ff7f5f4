"""Small shared types of the integration clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.integrations.errors import PlatformError

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PostFetchResult:
    """The outcome of fetching one post's metrics.

    ``payload`` is the raw per-post platform response (stored beside the mapped row so a
    corrected mapping can be re-applied). ``media_type`` is what we learned or assumed about
    the post (cache it and pass it back). ``dropped_metrics`` were rejected by the platform
    and left out of this fetch.
    """

    ok: bool
    payload: JSON | None = None
    error: PlatformError | None = None
    media_type: str | None = None
    dropped_metrics: tuple[str, ...] = ()

    @classmethod
    def success(
        cls, payload: JSON, *, media_type: str | None = None, dropped: tuple[str, ...] = ()
    ) -> PostFetchResult:
        """A fetched post."""
        return cls(True, payload, None, media_type, dropped)

    @classmethod
    def failure(
        cls, error: PlatformError, *, media_type: str | None = None, dropped: tuple[str, ...] = ()
    ) -> PostFetchResult:
        """A post whose fetch failed with ``error`` (neighbours are unaffected)."""
        return cls(False, None, error, media_type, dropped)
