"""Memory of insights metrics a platform rejected, per (provider, API version, media type)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

import structlog

log = structlog.get_logger(__name__)


class MetricRejections:
    """Metrics a platform rejected, per (provider, API version, media type).

    Thread- and task-safe (no awaits while locked). :meth:`export`/:meth:`load` let the
    caller persist the memory across restarts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rejected: dict[tuple[str, str, str], dict[str, str]] = {}

    def rejected(self, provider: str, api_version: str, media_type: str) -> frozenset[str]:
        """Names rejected for this key."""
        with self._lock:
            return frozenset(self._rejected.get((provider, api_version, media_type), {}))

    def filter(
        self, provider: str, api_version: str, media_type: str, metrics: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Split ``metrics`` into (to send, previously rejected)."""
        bad = self.rejected(provider, api_version, media_type)
        return (
            tuple(m for m in metrics if m not in bad),
            tuple(m for m in metrics if m in bad),
        )

    def record(
        self,
        provider: str,
        api_version: str,
        media_type: str,
        metrics: Iterable[str],
        *,
        reason: str = "",
    ) -> tuple[str, ...]:
        """Remember rejected ``metrics``; returns those that were new."""
        key = (provider, api_version, media_type)
        new: list[str] = []
        with self._lock:
            entry = self._rejected.setdefault(key, {})
            for metric in metrics:
                if metric not in entry:
                    entry[metric] = reason[:300]
                    new.append(metric)
        if new:
            log.warning(
                "insights.metrics.rejected",
                provider=provider,
                api_version=api_version,
                media_type=media_type,
                metrics=new,
            )
        return tuple(new)

    def export(self) -> list[dict[str, str]]:
        """A JSON-safe snapshot: one ``{provider, api_version, media_type, metric, reason}``."""
        with self._lock:
            return [
                {
                    "provider": p,
                    "api_version": v,
                    "media_type": t,
                    "metric": metric,
                    "reason": reason,
                }
                for (p, v, t), entry in sorted(self._rejected.items())
                for metric, reason in sorted(entry.items())
            ]

    def load(self, entries: Iterable[Mapping[str, str]]) -> None:
        """Merge a snapshot produced by :meth:`export` (malformed rows are skipped)."""
        with self._lock:
            for row in entries:
                try:
                    key = (row["provider"], row["api_version"], row["media_type"])
                    metric = row["metric"]
                except (KeyError, TypeError):
                    continue
                self._rejected.setdefault(key, {}).setdefault(metric, row.get("reason", ""))
