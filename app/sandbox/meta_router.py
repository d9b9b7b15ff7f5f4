"""The Graph route table and helpers shared by the read and publish handlers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from app.sandbox.fields import FieldSpec, FieldsSyntaxError, parse_fields, split_list
from app.sandbox.graph_errors import GraphError, invalid_parameter
from app.sandbox.meta_auth import Caller, GraphRequest
from app.sandbox.meta_objects import GraphNode
from app.sandbox.state import SandboxState

GraphResult = tuple[int, Any, dict[str, str]]


@dataclass(slots=True)
class Call:
    state: SandboxState
    req: GraphRequest
    caller: Caller
    node: GraphNode
    now: float


Handler = Callable[[Call], Any]
ROUTES: dict[tuple[str, str, str | None], Handler] = {}


def route(method: str, kind: str, edge: str | None) -> Callable[[Handler], Handler]:
    """Register a handler for ``METHOD /{node of kind}/{edge}`` (edge None: the node itself)."""

    def register(fn: Handler) -> Handler:
        ROUTES[(method, kind, edge)] = fn
        return fn

    return register


def parse_specs(params: dict[str, str]) -> tuple[FieldSpec, ...] | None:
    text = params.get("fields")
    if text is None:
        return None
    try:
        return parse_fields(text)
    except FieldsSyntaxError as exc:
        raise GraphError(2500, str(exc)) from None


def metric_list(params: dict[str, str]) -> list[str] | None:
    metric = params.get("metric")
    return split_list(metric) if metric else None


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter("Invalid cursor") from None


def paged(call: Call, items: list[Any], render: Callable[[Any], Any]) -> dict[str, Any]:
    """Graph cursor paging: ``paging.cursors.before/after`` and ``next`` while more remain."""
    params = call.req.params
    try:
        limit = max(1, min(100, int(params.get("limit", "25"))))
    except ValueError:
        raise invalid_parameter("limit must be an integer") from None
    start = _decode_cursor(params["after"]) if "after" in params else 0
    page = items[start : start + limit]
    out: dict[str, Any] = {"data": [render(item) for item in page]}
    if page:
        end = start + len(page)
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end < len(items):
            query = {k: v for k, v in params.items() if k not in ("after", "before")}
            query["after"] = _cursor(end)
            path = "/".join(call.req.segments)
            paging["next"] = f"{call.req.base_url}/{call.req.version}/{path}?{urlencode(query)}"
        out["paging"] = paging
    return out
