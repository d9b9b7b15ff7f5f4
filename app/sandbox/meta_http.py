"""Starlette endpoint for the Graph API: HTTP in, :func:`dispatch` or batch, JSON out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.sandbox.fault_layer import lost_response
from app.sandbox.graph_errors import GraphError
from app.sandbox.meta_auth import GraphRequest, token_from_header
from app.sandbox.meta_batch import run_batch
from app.sandbox.meta_dispatch import LATEST_VERSION, dispatch, endpoint_label, parse_version
from app.sandbox.meta_oauth import dialog_redirect
from app.sandbox.publish_faults import LostReply
from app.sandbox.state import SandboxState

JSON_TYPE = "application/json; charset=UTF-8"


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def read_params(request: Request) -> dict[str, str]:
    """Query string merged with an urlencoded or JSON body (Graph accepts both)."""
    query = request.scope["query_string"]
    params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)) if query else {}
    if request.method in ("POST", "DELETE"):
        raw = await request.body()
        if raw:
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                if isinstance(data, dict):
                    params.update(
                        {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
                    )
            else:
                params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _base_url(request: Request) -> str:
    scope = request.scope
    for name, value in scope["headers"]:
        if name == b"host":
            return f"{scope['scheme']}://{value.decode('latin-1')}"
    host, port = scope.get("server") or ("127.0.0.1", 80)
    return f"{scope['scheme']}://{host}:{port}"


def _respond(status: int, body: Any, headers: dict[str, str], version: str) -> Response:
    out_headers = {"facebook-api-version": version, **headers}
    if status >= 400:
        out_headers["www-authenticate"] = 'OAuth "Facebook Platform" "invalid_request"'
    return Response(dumps(body), status, out_headers, JSON_TYPE)


async def graph_endpoint(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    segments = [seg for seg in request.scope["path"].split("/") if seg]
    version = LATEST_VERSION  # unversioned calls use the latest version
    if segments and parse_version(segments[0]) is not None:
        version, segments = segments[0], segments[1:]
    params = await read_params(request)
    if segments == ["dialog", "oauth"]:
        try:
            return RedirectResponse(dialog_redirect(state, params), 302)
        except GraphError as err:
            return _respond(err.status, err.body(), {}, version)
    token = params.get("access_token")
    if token is None:
        token = token_from_header(request.headers.get("authorization"))
    req = GraphRequest(request.method, version, segments, params, token, _base_url(request))
    try:
        if not segments and request.method == "POST" and "batch" in params:
            try:
                status, body, headers = run_batch(state, req)
            except GraphError as err:
                status, body, headers = err.status, err.body(), err.headers
            finally:
                state.counters.bump("by_endpoint", endpoint_label(req))
            return _respond(status, body, headers, version)
        status, body, headers = dispatch(state, req)
    except LostReply as lost:  # the post exists; the client must not learn it from this reply
        # (in a batch, the whole batch's reply is lost)
        return lost_response(state, lost, _respond(*lost.reply, version), "meta")
    return _respond(status, body, headers, version)
