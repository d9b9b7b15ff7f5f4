"""Re-apply the current mapping to stored raw payloads (`postmeter insights remap`).

Every real snapshot keeps the platform response it was mapped from, so a corrected mapping
can be applied to history without refetching.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import MetricsSource, PostMetrics
from app.services.insights_mapper import MetricValues, map_post_metrics
from app.services.insights_store import recompute_schedule_metrics, values_of

CHUNK = 1000


@dataclass
class RemapReport:
    scanned: int = 0
    changed: int = 0


def remap_row(
    row: PostMetrics, *, linkedin_fields: Collection[str] | None = None
) -> MetricValues | None:
    """The values the current mapping gives this row's raw payload (None: nothing to map)."""
    if not row.raw or row.source == MetricsSource.FAKE:
        return None
    return map_post_metrics(
        row.provider.value, row.raw, media_type=row.media_type, linkedin_fields=linkedin_fields
    )


async def remap_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    linkedin_fields: Collection[str] | None = None,
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
                new = remap_row(row, linkedin_fields=linkedin_fields)
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
