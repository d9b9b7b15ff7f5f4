"""Graph API dispatcher: version check, auth, rate limits, then the node/edge handler."""

from __future__ import annotations

from app.sandbox import ig_publish, meta_oauth, meta_publish, meta_reads
from app.sandbox.fields import split_list
from app.sandbox.graph_errors import (
    GraphError,
    invalid_parameter,
    old_version,
    throttled,
    unknown_object,
    unknown_path,
)
from app.sandbox.meta_auth import Caller, GraphRequest, authenticate
from app.sandbox.meta_objects import GraphNode, render_node, resolve_node
from app.sandbox.meta_router import ROUTES, Call, GraphResult, parse_specs
from app.sandbox.publish_faults import LostReply
from app.sandbox.state import SandboxState

LATEST_VERSION = "v26.0"
MAX_IDS = 50
_HANDLER_MODULES = (meta_reads, meta_publish, ig_publish)  # importing them registers their routes


def parse_version(version: str) -> int | None:
    if (
        len(version) > 3
        and version[0] == "v"
        and version.endswith(".0")
        and version[1:-2].isdigit()
    ):
        return int(version[1:-2])
    return None


def check_version(state: SandboxState, version: str) -> None:
    number = parse_version(version)
    if number is None:
        raise unknown_path(version)
    if number < state.settings.graph_min_version:
        raise old_version(version, LATEST_VERSION)


def endpoint_label(req: GraphRequest) -> str:
    """Low-cardinality name of the endpoint, for the counters."""
    segs = req.segments
    if not segs:
        if req.method == "POST" and "batch" in req.params:
            return "meta POST / (batch)"
        return f"meta {req.method} /?ids"
    head = segs[0] if segs[0] in ("me", "oauth", "debug_token", "dialog") else "{id}"
    return f"meta {req.method} /" + "/".join([head, *segs[1:]])


def count_call(
    state: SandboxState, caller: Caller, node: GraphNode | None, now: float
) -> dict[str, str]:
    """Count one call against the quotas; raises the throttling error when over."""
    business = node.business if node is not None else None
    result = state.usage.meta_call(
        quotas=state.quotas,
        overrides=caller.app.quotas,
        min_pct=state.settings.usage_header_min_pct,
        now=now,
        app_id=caller.app.id,
        user_id=caller.token.user_id if caller.is_user else None,
        page_token=caller.is_page,
        target_kind=business[0] if business else None,
        target_id=business[1] if business else None,
    )
    if result.code is not None:
        state.counters.bump("throttled", str(result.code))
        err = throttled(result.code)
        err.headers = result.headers
        raise err
    return result.headers


def dispatch(state: SandboxState, req: GraphRequest) -> GraphResult:
    """Answer one Graph call; errors come back in Graph's JSON shape. Raises only `LostReply`
    (a publishing fault: the post was created, the HTTP layer must lose the reply)."""
    token_value = req.token
    app_id = None
    lost: LostReply | None = None
    try:
        status, body, headers = _dispatch(state, req)
    except GraphError as err:
        state.counters.bump("errors_by_code", str(err.code))
        status, body, headers = err.status, err.body(), err.headers
    except LostReply as exc:  # created; the HTTP layer loses the reply
        lost = exc
        status, body, headers = exc.reply
    if token_value:
        token = state.tokens.get(token_value)
        app_id = token.app_id if token is not None else None
    state.counters.record(endpoint_label(req), token_value, app_id, status)
    if lost is not None:
        raise lost
    return status, body, headers


def _dispatch(state: SandboxState, req: GraphRequest) -> GraphResult:
    check_version(state, req.version)
    segs = req.segments
    if not segs:
        if req.method == "GET" and "ids" in req.params:
            return multi_id(state, req)
        raise unknown_path("")
    if segs[0] == "oauth" and segs[1:] == ["access_token"]:
        return 200, meta_oauth.access_token(state, req), {}
    if segs[0] == "debug_token" and len(segs) == 1:
        return 200, meta_oauth.debug_token(state, req), {}
    if len(segs) > 2:
        raise unknown_path("/".join(segs[2:]))
    caller = authenticate(state, req)
    now = state.now()
    method = req.method
    node = resolve_node(state, segs[0], caller, method.lower())
    headers = count_call(state, caller, node, now)
    edge = segs[1] if len(segs) > 1 else None
    handler = ROUTES.get((method, node.kind, edge))
    if handler is None:
        if edge is None:
            raise unknown_object(segs[0], method.lower())
        raise unknown_path(edge)
    try:
        body = handler(Call(state, req, caller, node, now))
    except GraphError as err:
        err.headers = headers
        raise
    return 200, body, headers


def multi_id(state: SandboxState, req: GraphRequest) -> GraphResult:
    """``GET /?ids=a,b&fields=..``: any unknown id fails the whole call, as Graph does."""
    ids = split_list(req.params["ids"])
    if len(ids) > MAX_IDS:
        raise invalid_parameter(f"Too many IDs. Maximum: {MAX_IDS}. Provided: {len(ids)}.")
    caller = authenticate(state, req)
    now = state.now()
    specs = parse_specs(req.params)
    nodes: list[GraphNode] = []
    missing = []
    for object_id in ids:
        try:
            nodes.append(resolve_node(state, object_id, caller))
        except GraphError:
            missing.append(object_id)
    if missing:
        raise invalid_parameter(
            "Some of the aliases you requested do not exist: " + ",".join(missing)
        )
    headers: dict[str, str] = {}
    for node in nodes:  # each id is a separate call for the rate limits
        headers.update(count_call(state, caller, node, now))
    out = {node.id: render_node(state, node, caller, specs, now, req) for node in nodes}
    return 200, out, headers
