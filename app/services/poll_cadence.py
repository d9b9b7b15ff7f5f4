"""Polling cadence: when a tracked post is polled next (pure functions).

Why a fetch failed is the error's `ErrorKind` (`app.core.error_kinds`); when a platform's quota
resets is its home's knowledge (`app.integrations.platforms`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_ERROR_BACKOFF = timedelta(hours=6)


def poll_interval(
    published_at: datetime | None, now: datetime, *, hours: float, decay: bool
) -> timedelta:
    """How long until the next poll: the interval, or by age when decay is on."""
    base = timedelta(hours=hours)
    if not decay or published_at is None:
        return base
    age = now - published_at
    if age < timedelta(days=1):
        return min(base, timedelta(hours=1))
    if age < timedelta(days=7):
        return base
    return max(base, timedelta(days=1))


def next_fetch_at(
    published_at: datetime | None, now: datetime, *, hours: float, decay: bool, max_age_days: int
) -> datetime | None:
    """When to poll next, or None when the post is past INSIGHTS_MAX_AGE_DAYS."""
    if published_at is not None and now - published_at > timedelta(days=max_age_days):
        return None
    return now + poll_interval(published_at, now, hours=hours, decay=decay)


def error_backoff(failures: int, now: datetime) -> datetime:
    """Exponential backoff with jitter for posts whose last fetch failed transiently."""
    delay = min(MAX_ERROR_BACKOFF, timedelta(minutes=5) * (1 << min(failures, 10)))
    return now + delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security
