"""A tiny fake Graph batch API and a Meta client config against it (respx-mounted by the
`graph` fixture in conftest.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from app.integrations.meta_insights import MetaClientConfig

GRAPH = "https://graph.test"
TOKEN = "EAABtesttoken1234567890abcdef"
SECRET = "app-secret-xyz"
_METRICS_RE = re.compile(r"(video_insights|insights)\.metric\(([^)]*)\)")


def meta_config(**overrides: object) -> MetaClientConfig:
    """A Meta client config against the fake Graph, with an app secret (so proofs are sent)."""
    base: dict[str, object] = {"base_url": GRAPH, "api_version": "v25.0", "app_secret": SECRET}
    return MetaClientConfig(**(base | overrides))  # type: ignore[arg-type]


@dataclass
class FakeGraph:
    """Answers ``POST /v25.0/`` batch calls like Graph, recording every call."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    retired: set[str] = field(default_factory=set)
    name_retired: bool = False
    unsupported: dict[str, set[str]] = field(default_factory=dict)  # product -> metrics
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (type, product)
    item_errors: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    transient_once: set[str] = field(default_factory=set)
    headers: dict[str, str] = field(default_factory=dict)

    def urls(self, call: int) -> list[str]:
        return [item["relative_url"] for item in self.calls[call]["batch"]]

    def handler(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        batch = json.loads(form["batch"])
        self.calls.append({"form": form, "batch": batch})
        items = [self._item(entry["relative_url"]) for entry in batch]
        return httpx.Response(200, json=items, headers=self.headers)

    def _error(self, status: int, error: dict[str, Any]) -> dict[str, Any]:
        return {"code": status, "headers": [], "body": json.dumps({"error": error})}

    def _item(self, url: str) -> dict[str, Any]:
        obj_id, _, query = url.partition("?")
        fields = parse_qs(query).get("fields", [""])[0]
        if obj_id in self.item_errors:
            return self._error(*self.item_errors[obj_id])
        if obj_id in self.transient_once:
            self.transient_once.discard(obj_id)
            return self._error(500, {"message": "An unexpected error has occurred.", "code": 2})
        media_type, product = self.kinds.get(obj_id, ("IMAGE", "FEED"))
        match = _METRICS_RE.search(fields)
        edge, metrics = (match.group(1), match.group(2).split(",")) if match else (None, [])
        for metric in metrics:
            if metric in self.unsupported.get(product, set()):
                return self._error(400, {"code": 100, "message": (
                    f"(#100) The Media Insights API does not support the {metric} metric "
                    "for this media product type.")})  # fmt: skip
            if metric in self.retired:
                message = (
                    f"(#100) Starting from version 22 and above, the {metric} metric is no "
                    "longer supported for the queried user."
                    if self.name_retired
                    else "(#100) The value must be a valid insights metric"
                )
                return self._error(400, {"code": 100, "message": message})
        body: dict[str, Any] = {"id": obj_id}
        if "media_product_type" in fields:
            body |= {"media_type": media_type, "media_product_type": product,
                     "like_count": 7, "comments_count": 3}  # fmt: skip
        if "reactions.limit(0)" in fields:
            body["reactions"] = {"data": [], "summary": {"total_count": 5}}
            body["comments"] = {"data": [], "summary": {"total_count": 2}}
        if edge:
            body[edge] = {"data": [_metric_row(obj_id, m) for m in metrics]}
        return {"code": 200, "headers": [], "body": json.dumps(body)}


def _metric_row(obj_id: str, metric: str) -> dict[str, Any]:
    value: Any = 100 + len(metric)
    if metric == "post_reactions_by_type_total":
        value = {"like": 3, "love": 2}
    return {"name": metric, "period": "lifetime", "values": [{"value": value}],
            "id": f"{obj_id}/insights/{metric}/lifetime"}  # fmt: skip
