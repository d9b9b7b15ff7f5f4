"""`GET /api/v1/insights/summary` computed at most once per INSIGHTS_SUMMARY_CACHE_SECONDS per
workspace and process.

A summary counts every post the workspace tracks. That costs 40-100 ms of the API's CPU at
100,000 posts (`bench/bench_request_cpu.py`), where a page of the schedules listing costs
3 ms. A key's request budget (1,200 a minute) would let one workspace keep the API busy with
summaries alone, and on SQLite those reads run on the event loop that serves every other
workspace too. Served from this cache, a workspace's repeated summaries cost one computation
per interval, however many dashboards ask. `computed_at` in the answer says when its figures
were computed.

Concurrent requests for a workspace whose summary is due wait for the one computation under
way instead of each starting their own. A computation that fails or is cancelled is not
kept, and the next request in line computes again. Workspaces never share an entry: the key
is the caller's workspace.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from app.schemas.insights import SummaryOut


class SummaryCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[uuid.UUID, tuple[float, SummaryOut]] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def get(
        self, workspace_id: uuid.UUID, compute: Callable[[], Awaitable[SummaryOut]]
    ) -> SummaryOut:
        """The workspace's summary: the kept one while it is younger than the interval, else
        `compute()`'s (one computation at a time per workspace)."""
        if self.ttl_seconds <= 0:
            return await compute()
        kept = self._fresh(workspace_id)
        if kept is not None:
            return kept
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            kept = self._fresh(workspace_id)  # computed while this request waited
            if kept is not None:
                return kept
            started = self._clock()
            summary = await compute()
            self._entries[workspace_id] = (started, summary)
        self._forget_expired(started)
        return summary

    def _fresh(self, workspace_id: uuid.UUID) -> SummaryOut | None:
        kept = self._entries.get(workspace_id)
        if kept is None or self._clock() - kept[0] >= self.ttl_seconds:
            return None
        return kept[1]

    def _forget_expired(self, now: float) -> None:
        """Drop entries past their interval, and the idle locks of workspaces without an
        entry: memory follows the workspaces asking now, not every one that ever asked."""
        for workspace_id, (computed, _summary) in list(self._entries.items()):
            if now - computed >= self.ttl_seconds:
                del self._entries[workspace_id]
        for workspace_id, lock in list(self._locks.items()):
            if workspace_id not in self._entries and not lock.locked():
                del self._locks[workspace_id]
