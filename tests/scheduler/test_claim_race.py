"""Two engines racing for the same due schedules on PostgreSQL: each target is started once
(one attempt), and publishing everything they started makes exactly one post per target."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.core.runtime import Runtime, build_runtime
from app.models import PublishAttempt
from tests.scheduler.fakes import FakePlatform
from tests.scheduler.helpers import claim, drive, make_due, make_steps

SCHEDULES = 40


async def test_two_engines_start_each_target_once(runtime: Runtime) -> None:
    if runtime.settings.is_sqlite:
        pytest.skip("racing claimers need PostgreSQL (SQLite has one writer)")
    dues = [await make_due(runtime, text=f"post {i}") for i in range(SCHEDULES)]
    # A second engine: its own connection pool, as a second worker process has.
    other = build_runtime(runtime.settings)
    try:
        rounds = await asyncio.gather(*(claim(rt) for rt in [runtime, other] * 4))
    finally:
        await other.aclose()
    started = [item for batch in rounds for item in batch]
    counts = Counter(item.target_id for item in started)
    assert set(counts) == {str(d.target_id) for d in dues}
    assert max(counts.values()) == 1
    async with runtime.sessionmaker() as s:
        attempts = int(await s.scalar(select(func.count()).select_from(PublishAttempt)) or 0)
    assert attempts == SCHEDULES
    platform = FakePlatform()
    steps = make_steps(runtime, platform)
    await asyncio.gather(*(drive(steps, item.key) for item in started))
    assert all(platform.posts(d.target_id) == 1 for d in dues)
    assert platform.total_posts() == SCHEDULES
