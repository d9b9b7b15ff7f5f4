"""Graph batch requests: up to 50 independent sub-requests in one POST."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.sandbox.graph_errors import GraphError, invalid_parameter
from app.sandbox.meta_auth import GraphRequest, authenticate
from app.sandbox.meta_dispatch import LATEST_VERSION, dispatch, parse_version
from app.sandbox.meta_router import GraphResult
from app.sandbox.publish_faults import LostReply
from app.sandbox.state import SandboxState

MAX_BATCH = 50
_ITEM_HEADERS = [
    {"name": "Content-Type", "value": "text/javascript; charset=UTF-8"},
    {"name": "Cache-Control", "value": "private, no-cache, no-store, must-revalidate"},
]


def _sub_request(outer: GraphRequest, item: Any) -> GraphRequest:
    if not isinstance(item, dict) or not isinstance(item.get("relative_url"), str):
        raise invalid_parameter("Each batch item needs a relative_url")
    method = str(item.get("method", "GET")).upper()
    url = urlsplit(item["relative_url"].lstrip("/"))
    segments = [seg for seg in url.path.split("/") if seg]
    version = outer.version
    if segments and parse_version(segments[0]) is not None:
        version, segments = segments[0], segments[1:]
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    body = item.get("body")
    if isinstance(body, str):
        params.update(parse_qsl(body, keep_blank_values=True))
    token = params.get("access_token") or outer.token
    if token == outer.token and "appsecret_proof" in outer.params:
        params.setdefault("appsecret_proof", outer.params["appsecret_proof"])
    return GraphRequest(method, version or LATEST_VERSION, segments, params, token, outer.base_url)


def run_batch(state: SandboxState, req: GraphRequest) -> GraphResult:
    """Answer a batch: a JSON list of ``{code, headers, body}`` with ``body`` a JSON string."""
    try:
        items = json.loads(req.params["batch"])
    except ValueError:
        raise invalid_parameter("The parameter batch must be a JSON array") from None
    if not isinstance(items, list) or not items:
        raise invalid_parameter("The parameter batch must be a non-empty JSON array")
    if len(items) > MAX_BATCH:
        raise invalid_parameter(
            f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        )
    if req.token:
        authenticate(state, req)  # a bad fallback token fails the whole batch
    include_headers = req.params.get("include_headers", "true") != "false"
    out: list[dict[str, Any] | None] = []
    lost: LostReply | None = None
    last_headers: dict[str, str] = {}
    batch_path = f"/{req.version}/"
    for item in items:
        if state.faults.skips_batch_item(batch_path):
            state.counters.bump("faults", "batch_null")
            out.append(None)  # Graph did not run this sub-request
            continue
        headers: dict[str, str] = {}
        try:
            sub = _sub_request(req, item)
            if not sub.segments and sub.method == "POST" and "batch" in sub.params:
                raise invalid_parameter("Nested batch requests are not allowed")
        except GraphError as err:
            status, body = err.status, err.body()
        else:
            try:
                status, body, headers = dispatch(state, sub)
            except LostReply as exc:  # the item ran; the batch's whole reply will be lost
                lost = lost or exc
                status, body, headers = exc.reply
        last_headers.update(headers)
        entry: dict[str, Any] = {"code": status, "body": json.dumps(body, separators=(",", ":"))}
        if include_headers:
            entry["headers"] = _ITEM_HEADERS + [{"name": k, "value": v} for k, v in headers.items()]
        out.append(entry)
    if lost is not None:
        raise LostReply(lost.rule, (200, out, last_headers))
    return 200, out, last_headers
