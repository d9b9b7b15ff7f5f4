from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.models import MetricsSource, PostMetrics, Provider, ScheduleMetrics
from app.services.insights_mapper import MetricValues
from app.services.insights_store import (
    Snapshot,
    bucket_start,
    history,
    latest_snapshots,
    normalize_metrics_for_analytics,
    upsert_snapshots,
    values_of,
)
from tests.factories import make_account, track_posts

DAY = 86400
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def snap(
    schedule_id: uuid.UUID,
    at: datetime,
    impressions: int,
    *,
    provider: Provider = Provider.FACEBOOK,
    source: MetricsSource = MetricsSource.META,
) -> Snapshot:
    return Snapshot(
        schedule_id=schedule_id,
        provider=provider,
        captured_at=at,
        values=MetricValues(impressions=impressions, reach=impressions // 2, likes=5),
        source=source,
        raw={"impressions": impressions},
    )


async def _post(runtime: Runtime) -> uuid.UUID:
    ws, acc = await make_account(runtime)
    [post] = await track_posts(
        runtime, workspace_id=ws, account_id=acc, provider=Provider.FACEBOOK, external_ids=["1_2"]
    )
    return post.schedule_id


async def _count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(PostMetrics)) or 0)


def test_bucket_start() -> None:
    assert bucket_start(T0, DAY) == datetime(2026, 11, 20, tzinfo=UTC)
    assert bucket_start(T0, 3600) == T0


async def test_refetch_in_bucket_updates_one_row(runtime: Runtime) -> None:
    sid = await _post(runtime)
    for i, at in enumerate([T0, T0 + timedelta(hours=3), T0 + timedelta(hours=1)]):
        async with runtime.sessionmaker() as s, s.begin():
            await upsert_snapshots(s, [snap(sid, at, 100 + i)], bucket_seconds=DAY)
    assert await _count(runtime) == 1
    async with runtime.sessionmaker() as s:
        row = await s.scalar(select(PostMetrics))
    assert row is not None
    # the newest capture (3 h, value 101) wins; the late-arriving older one (1 h) does not
    assert values_of(row).impressions == 101
    assert row.captured_at == T0 + timedelta(hours=3)
    async with runtime.sessionmaker() as s, s.begin():
        await upsert_snapshots(s, [snap(sid, T0 + timedelta(days=1), 500)], bucket_seconds=DAY)
    assert await _count(runtime) == 2


async def test_concurrent_fetches_never_duplicate(runtime: Runtime) -> None:
    sid = await _post(runtime)

    async def write(i: int) -> None:
        async with runtime.sessionmaker() as s, s.begin():
            await upsert_snapshots(
                s, [snap(sid, T0 + timedelta(minutes=i), 1000 + i)], bucket_seconds=DAY
            )

    await asyncio.gather(*(write(i) for i in range(12)))
    assert await _count(runtime) == 1
    async with runtime.sessionmaker() as s:
        row = await s.scalar(select(PostMetrics))
    assert row is not None
    assert values_of(row).impressions == 1011


async def test_fake_never_overwrites_real(runtime: Runtime) -> None:
    sid = await _post(runtime)
    async with runtime.sessionmaker() as s, s.begin():
        await upsert_snapshots(s, [snap(sid, T0, 100)], bucket_seconds=DAY)
        await upsert_snapshots(
            s,
            [snap(sid, T0 + timedelta(hours=1), 9999, source=MetricsSource.FAKE)],
            bucket_seconds=DAY,
        )
    async with runtime.sessionmaker() as s:
        row = await s.scalar(select(PostMetrics))
    assert row is not None
    assert (values_of(row).impressions, row.source) == (100, MetricsSource.META)


async def test_latest_analytics_and_history(runtime: Runtime) -> None:
    sid = await _post(runtime)
    async with runtime.sessionmaker() as s, s.begin():
        snaps = [snap(sid, T0 + timedelta(days=d), 100 * (d + 1)) for d in range(5)]
        snaps.append(snap(sid, T0, 40, provider=Provider.LINKEDIN, source=MetricsSource.LINKEDIN))
        await upsert_snapshots(s, snaps, bucket_seconds=DAY)
        metrics = await normalize_metrics_for_analytics(s, schedule_id=sid)
    assert isinstance(metrics, ScheduleMetrics)
    totals = values_of(metrics)
    assert totals.impressions == 500 + 40
    assert totals.reach == 250 + 20
    assert totals.likes == 10
    assert metrics.engagement == 10
    assert metrics.engagement_rate is not None
    assert abs(metrics.engagement_rate - 10 / 270) < 1e-9
    assert totals.saves is None
    assert sorted(metrics.providers) == ["facebook", "linkedin"]
    async with runtime.sessionmaker() as s:
        latest = await latest_snapshots(s, [sid])
        assert [values_of(r).impressions for r in latest[sid]] == [500, 40]
        seen, cursor = [], None
        while True:
            rows, cursor = await history(
                s,
                schedule_id=sid,
                provider=Provider.FACEBOOK,
                start=None,
                end=None,
                limit=2,
                cursor=cursor,
            )
            seen += [values_of(r).impressions for r in rows]
            if cursor is None:
                break
        assert seen == [100, 200, 300, 400, 500]
        rows, _ = await history(
            s,
            schedule_id=sid,
            provider=None,
            start=T0 + timedelta(days=1),
            end=T0 + timedelta(days=3),
            limit=50,
            cursor=None,
        )
        assert [values_of(r).impressions for r in rows] == [300, 400]  # buckets start at midnight


async def test_history_takes_every_cursor_of_the_stated_shape(runtime: Runtime) -> None:
    """Any 22 URL-safe base64 characters (the schema's cursor pattern) are a position: the
    earliest, the latest, a negative id, a time beyond what datetime holds."""
    sid = await _post(runtime)
    async with runtime.sessionmaker() as s, s.begin():
        await upsert_snapshots(
            s, [snap(sid, T0 + timedelta(days=d), d + 1) for d in range(3)], bucket_seconds=DAY
        )
    expected = {"A" * 22: [1, 2, 3], "_" * 22: [1, 2, 3], "f" * 22: [], "g" * 22: [1, 2, 3]}
    async with runtime.sessionmaker() as s:
        for cursor, impressions in expected.items():
            rows, _ = await history(
                s,
                schedule_id=sid,
                provider=None,
                start=None,
                end=None,
                limit=10,
                cursor=cursor,
            )
            assert [values_of(r).impressions for r in rows] == impressions, cursor
