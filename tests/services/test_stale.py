from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models import ScheduleExternal
from app.services.insights import is_stale

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_stale_follows_the_posts_own_cadence() -> None:
    daily = ScheduleExternal(next_fetch_at=NOW + timedelta(hours=20), last_error_kind=None)
    assert not is_stale(daily, NOW)  # decayed to daily polling: not stale before it is due
    overdue = ScheduleExternal(next_fetch_at=NOW - timedelta(hours=2), last_error_kind=None)
    assert is_stale(overdue, NOW)
    failed = ScheduleExternal(next_fetch_at=NOW + timedelta(hours=1), last_error_kind="transient")
    assert is_stale(failed, NOW)
    retired = ScheduleExternal(next_fetch_at=None, last_error_kind=None)  # past max age
    assert not is_stale(retired, NOW)
