"""The one clock of the application."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now (a function so time-machine controls it in tests)."""
    return datetime.now(UTC)
