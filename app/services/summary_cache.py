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
way and take its answer, however long it took, or its error: a slow or failing database is
asked once per workspace, not once per waiting request (each of which holds a connection). A
computation whose request went away (cancelled) is left to the next request in line, and
nothing failed or cancelled is kept. Workspaces never share an entry: the key is the
caller's workspace. The computation runs in the request that started it, in that request's
session.
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
        # The computation under way per workspace: its answer, or its error, for the waiters.
        self._pending: dict[uuid.UUID, asyncio.Future[SummaryOut]] = {}

    async def get(
        self, workspace_id: uuid.UUID, compute: Callable[[], Awaitable[SummaryOut]]
    ) -> SummaryOut:
        """The workspace's summary: the kept one while it is younger than the interval, else
        the one computation under way's, else `compute()`'s."""
        if self.ttl_seconds <= 0:
            return await compute()
        while True:
            kept = self._fresh(workspace_id)
            if kept is not None:
                return kept
            pending = self._pending.get(workspace_id)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the computation
                # The computing request went away: the next one in line computes.
        pending = asyncio.get_running_loop().create_future()
        self._pending[workspace_id] = pending
        started = self._clock()
        try:
            summary = await compute()
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            self._entries[workspace_id] = (started, summary)
            pending.set_result(summary)
        finally:
            del self._pending[workspace_id]
            self._forget_expired(self._clock())
        return summary

    def _fresh(self, workspace_id: uuid.UUID) -> SummaryOut | None:
        kept = self._entries.get(workspace_id)
        if kept is None or self._clock() - kept[0] >= self.ttl_seconds:
            return None
        return kept[1]

    def _forget_expired(self, now: float) -> None:
        """Drop entries past their interval: memory follows the workspaces asking now, not
        every one that ever asked."""
        for workspace_id, (computed, _summary) in list(self._entries.items()):
            if now - computed >= self.ttl_seconds:
                del self._entries[workspace_id]
