"""The metric fields are declared once (`app.core.metrics`); models, API schemas and the mapped
values all carry exactly those fields."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import fields

from sqlalchemy import BigInteger

from app.core.metrics import METRIC_DESCRIPTIONS, METRIC_FIELDS, MetricValues
from app.models import PostMetrics, ScheduleMetrics
from app.schemas.insights import MetricsOut, TotalsOut
from app.services import insights_mapper


def test_the_declaration_has_a_description_per_field() -> None:
    assert METRIC_FIELDS == tuple(f.name for f in fields(MetricValues))
    assert set(METRIC_DESCRIPTIONS) == set(METRIC_FIELDS)
    assert all(len(text) > 10 for text in METRIC_DESCRIPTIONS.values())
    assert insights_mapper.MetricValues is MetricValues  # the product's name for it


def test_both_tables_have_a_nullable_bigint_column_per_metric() -> None:
    for model in (PostMetrics, ScheduleMetrics):
        columns = model.__table__.columns
        for name in METRIC_FIELDS:
            assert isinstance(columns[name].type, BigInteger), (model, name)
            assert columns[name].nullable, (model, name)


def test_api_schemas_carry_every_metric_with_its_description() -> None:
    for schema, required in ((MetricsOut, True), (TotalsOut, False)):
        for name in METRIC_FIELDS:
            field = schema.model_fields[name]
            assert field.description == METRIC_DESCRIPTIONS[name]
            assert field.is_required() is required, (schema, name)


# A new field in the declaration, with nothing else changed, reaches every derived place.
_ADD_A_FIELD = textwrap.dedent(
    """
    import dataclasses
    import app.core.metrics as m

    extended = dataclasses.make_dataclass(
        "MetricValues",
        [("bookmarks", "int | None",
          dataclasses.field(default=None, metadata={"description": "Times bookmarked."}))],
        bases=(m.MetricValues,), frozen=True, slots=True,
    )
    m.MetricValues = extended
    m.METRIC_FIELDS = (*m.METRIC_FIELDS, "bookmarks")
    m.METRIC_DESCRIPTIONS = {**m.METRIC_DESCRIPTIONS, "bookmarks": "Times bookmarked."}

    from app.main import create_app
    from app.models import PostMetrics, ScheduleMetrics
    from app.schemas.insights import MetricsOut, TotalsOut
    from app.services.insights_mapper import MetricValues, compute_schedule_analytics
    from app.services.insights_store import values_of

    assert "bookmarks" in PostMetrics.__table__.c
    assert "bookmarks" in ScheduleMetrics.__table__.c
    assert MetricsOut.model_fields["bookmarks"].description == "Times bookmarked."
    assert "bookmarks" in TotalsOut.model_fields
    schemas = create_app().openapi()["components"]["schemas"]
    assert "bookmarks" in schemas["MetricsOut"]["properties"]
    assert "bookmarks" in schemas["TotalsOut"]["properties"]
    row = PostMetrics(bookmarks=4, impressions=10)
    assert values_of(row).as_dict()["bookmarks"] == 4
    totals = compute_schedule_analytics([MetricValues(bookmarks=4), MetricValues(bookmarks=1)])
    assert totals.totals.as_dict()["bookmarks"] == 5
    print("ok")
    """
)


def test_a_field_added_to_the_declaration_appears_everywhere() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _ADD_A_FIELD], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
