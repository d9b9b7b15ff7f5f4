from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.poll_cadence import error_backoff, next_fetch_at

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def test_fixed_interval() -> None:
    published = NOW - timedelta(hours=2)
    assert next_fetch_at(published, NOW, hours=6, decay=False, max_age_days=90) == NOW + timedelta(
        hours=6
    )


def test_decay_by_age() -> None:
    def nxt(age: timedelta) -> timedelta | None:
        at = next_fetch_at(NOW - age, NOW, hours=6, decay=True, max_age_days=90)
        return None if at is None else at - NOW

    assert nxt(timedelta(hours=3)) == timedelta(hours=1)
    assert nxt(timedelta(days=3)) == timedelta(hours=6)
    assert nxt(timedelta(days=30)) == timedelta(days=1)
    assert nxt(timedelta(days=91)) is None  # past INSIGHTS_MAX_AGE_DAYS: no more polling


def test_error_backoff_grows_with_jitter_and_is_capped() -> None:
    first = error_backoff(0, NOW) - NOW
    assert timedelta(minutes=2, seconds=30) <= first <= timedelta(minutes=5)
    later = error_backoff(3, NOW) - NOW
    assert later > timedelta(minutes=19)
    assert error_backoff(50, NOW) - NOW <= timedelta(hours=6)
