"""Reading numbers out of platform payloads, shared by the homes' mappers.

A value the payload does not carry is ``None``, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def as_count(value: Any) -> int | None:
    """An integer count from a JSON value (``None`` when it is not one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, Mapping):
        # Breakdown objects (reactions by type): the total is the sum of the parts.
        parts = [as_count(v) for v in value.values()]
        return sum(p for p in parts if p is not None)
    return None


def first_count(*values: Any) -> int | None:
    """The first of `values` that is a count."""
    for value in values:
        if (number := as_count(value)) is not None:
            return number
    return None


def graph_insights(payload: Mapping[str, Any], *edges: str) -> dict[str, Any]:
    """``name -> lifetime value`` from an expanded Graph insights edge or a bare insights reply."""
    rows: list[Any] = []
    for edge in edges:
        container = payload.get(edge)
        if isinstance(container, Mapping) and isinstance(container.get("data"), list):
            rows.extend(container["data"])
    if not rows and isinstance(payload.get("data"), list):
        rows = payload["data"]
    out: dict[str, Any] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        values = row.get("values")
        if isinstance(values, list) and values and isinstance(values[-1], Mapping):
            out[row["name"]] = values[-1].get("value")
        elif "total_value" in row and isinstance(row["total_value"], Mapping):
            out[row["name"]] = row["total_value"].get("value")
    return out


def graph_summary_count(payload: Mapping[str, Any], edge: str) -> int | None:
    """``edge.summary.total_count`` of a Graph object (reactions, comments)."""
    container = payload.get(edge)
    if isinstance(container, Mapping) and isinstance(container.get("summary"), Mapping):
        return as_count(container["summary"].get("total_count"))
    return None
