"""The metric fields, declared once.

`MetricValues` is the declaration: its fields (with a description each) are the columns of
`post_metrics` and `schedule_metrics`, the metric fields of the API's `MetricsOut` and
`TotalsOut`, and what the mappers fill in. A field added here appears in all of them
(`tests/core/test_metrics.py` checks it); a migration adds its columns.

Rule everywhere: a metric the platform did not report is ``None``, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _metric(description: str) -> Any:
    return field(default=None, metadata={"description": description})


@dataclass(frozen=True, slots=True)
class MetricValues:
    """One post's (or schedule's) metric values; ``None`` = not reported."""

    impressions: int | None = _metric(
        "Times the post was shown (Facebook media views, Instagram views, LinkedIn impressions)."
    )
    reach: int | None = _metric("Distinct accounts the post was shown to.")
    likes: int | None = _metric("Likes, or all reactions where the platform has several kinds.")
    comments: int | None = _metric("Comments on the post.")
    shares: int | None = _metric("Shares or reposts of the post.")
    clicks: int | None = _metric("Clicks on the post or its link (not reported by Instagram).")
    video_views: int | None = _metric("Plays of a video or reel; null for other media.")
    saves: int | None = _metric("Times the post was saved (Instagram only).")
    cost_cents: int | None = _metric("Money spent promoting the post, in cents.")

    def as_dict(self) -> dict[str, int | None]:
        """Field name -> value."""
        return {name: getattr(self, name) for name in METRIC_FIELDS}


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MetricValues))
METRIC_DESCRIPTIONS: Mapping[str, str] = {
    f.name: str(f.metadata["description"]) for f in fields(MetricValues)
}
