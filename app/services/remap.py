"""Re-apply the current mapping to stored raw payloads (`postmeter insights remap`).

Every real snapshot keeps the platform response it was mapped from, so a corrected mapping
can be applied to history without refetching.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import MetricsSource, PostMetrics, Provider
from app.services.insights_mapper import (
    MetricValues,
    map_linkedin_to_post_metrics,
    map_meta_to_post_metrics,
)
from app.services.insights_store import recompute_schedule_metrics, values_of

CHUNK = 1000


@dataclass
class RemapReport:
    scanned: int = 0
    changed: int = 0


def remap_row(row: PostMetrics) -> MetricValues | None:
    """The values the current mapping gives this row's raw payload (None: nothing to map)."""
    raw = row.raw
    if not raw or row.source == MetricsSource.FAKE:
        return None
    if row.provider == Provider.LINKEDIN:
        is_org = "totalShareStatistics" in raw
        return map_linkedin_to_post_metrics(raw, kind="organization" if is_org else "member")
    return map_meta_to_post_metrics(
        "facebook" if row.provider == Provider.FACEBOOK else "instagram",
        raw,
        media_type=row.media_type,
    )


async def remap_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    progress: Callable[[int], None] | None = None,
) -> RemapReport:
    """Walk every snapshot in chunks (one transaction each); rewrite rows whose values change."""
    report = RemapReport()
    last_id = 0
    while True:
        async with sessionmaker() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(PostMetrics)
                    .where(PostMetrics.id > last_id)
                    .order_by(PostMetrics.id)
                    .limit(CHUNK)
                )
            )
            if not rows:
                break
            last_id = rows[-1].id
            changes = []
            touched = set()
            for row in rows:
                new = remap_row(row)
                if new is not None and new != values_of(row):
                    changes.append({"id": row.id, **new.as_dict()})
                    touched.add(row.schedule_id)
            if changes:
                await session.execute(
                    update(PostMetrics).execution_options(synchronize_session=False), changes
                )
                await recompute_schedule_metrics(session, list(touched))
            report.scanned += len(rows)
            report.changed += len(changes)
        if progress is not None:
            progress(len(rows))
    return report
