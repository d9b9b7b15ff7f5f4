"""The metric columns of `post_metrics` and `schedule_metrics`, derived from the one declaration
(`app.core.metrics.MetricValues`): a nullable BIGINT per metric field, described by its field.

The columns are attributes set on a mixin rather than written out per model, so a new metric
cannot be missing from a table. Typed access to a row's metrics goes through
`app.services.insights_store.values_of` (a `MetricValues`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import mapped_column

from app.core.metrics import METRIC_DESCRIPTIONS, METRIC_FIELDS


class MetricColumns:
    """Mixin: one nullable BIGINT column per metric field (null = not reported)."""


for _name in METRIC_FIELDS:
    # Declarative copies a mixin's mapped_column into every model that uses the mixin.
    setattr(
        MetricColumns,
        _name,
        mapped_column(BigInteger, nullable=True, doc=METRIC_DESCRIPTIONS[_name]),
    )
