"""Starlette endpoints for LinkedIn: ``/rest/*`` and ``/oauth/v2/*``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.sandbox import linkedin_media, linkedin_oauth, linkedin_posts, linkedin_stats
from app.sandbox.fault_layer import lost_response
from app.sandbox.linkedin_auth import authenticate, check_version, count_call
from app.sandbox.linkedin_errors import LinkedInError, OAuthError, bad_request
from app.sandbox.publish_faults import LostReply
from app.sandbox.restli import plain, raw_query
from app.sandbox.state import SandboxState

JSON_TYPE = "application/json"
FINDERS = {
    "organizationalEntityShareStatistics": linkedin_stats.organizational_share_statistics,
    "memberCreatorPostAnalytics": linkedin_stats.member_creator_post_analytics,
}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    out = {"x-restli-protocol-version": "2.0.0", **(headers or {})}
    return Response(content, status, out, JSON_TYPE if body is not None else None)


def _label(method: str, resource: str, has_key: bool) -> str:
    return f"linkedin {method} /rest/{resource}" + ("/{urn}" if has_key else "")


async def rest_endpoint(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    # The key is one path segment, percent-encoded by the client (urn%3Ali%3Ashare%3A1).
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    parts = raw_path.decode("latin-1").split("?", 1)[0].split("/")[2:]
    resource = parts[0] if parts else ""
    key = unquote("/".join(parts[1:])) if len(parts) > 1 and parts[1] else None
    method = request.method
    token_value = None
    app_id = None
    out_headers: dict[str, str] = {}
    lost: LostReply | None = None
    try:
        headers = {k.lower(): v for k, v in request.headers.items()}
        version = check_version(state, headers)
        caller = authenticate(state, request.headers.get("authorization"), version)
        token_value, app_id = caller.token.value, caller.token.app_id
        count_call(state, caller)
        raw = raw_query(request.scope.get("query_string", b""))
        status, body = 200, None
        action = plain(raw.get("action", "")) if method == "POST" and key is None else ""
        if resource == "posts" and method == "POST" and key is None:
            try:
                status, body, out_headers = linkedin_posts.create_post(
                    state, caller, await request.body()
                )
            except LostReply as exc:
                lost = exc
                status, body, out_headers = exc.reply
        elif resource == "posts" and method == "GET" and key is None and "q" in raw:
            if plain(raw["q"]) != "author":
                raise bad_request(f"Unsupported finder {plain(raw['q'])}")
            body = linkedin_posts.posts_by_author(state, caller, raw)
        elif resource in ("images", "videos") and action == "initializeUpload":
            init = (
                linkedin_media.initialize_image
                if resource == "images"
                else linkedin_media.initialize_video
            )
            body = init(state, caller, await request.body(), str(request.base_url).rstrip("/"))
        elif resource == "videos" and action == "finalizeUpload":
            linkedin_media.finalize_video(state, caller, await request.body())
        elif resource in ("images", "videos") and key is not None and method == "GET":
            kind = "image" if resource == "images" else "video"
            body = linkedin_media.get_asset(state, caller, kind, key)
        elif resource == "posts" and key is not None and method == "GET":
            body = linkedin_posts.get_post(state, caller, key)
        elif resource == "posts" and key is not None and method == "DELETE":
            linkedin_posts.delete_post(state, caller, key)
            status = 204
        elif resource == "socialMetadata" and method == "GET" and key is not None:
            body = linkedin_posts.social_metadata(state, caller, key)
        elif resource == "socialMetadata" and method == "GET" and "ids" in raw:
            body = linkedin_posts.social_metadata_batch(state, caller, raw["ids"])
        elif resource in FINDERS and method == "GET" and key is None:
            body = FINDERS[resource](state, caller, raw)
        else:
            raise LinkedInError(404, "NOT_FOUND", f"No virtual resource found for /rest/{resource}")
    except LinkedInError as err:
        status, body, out_headers = err.status, err.body(), {}
        state.counters.bump("errors_by_code", f"linkedin {err.status}")
    state.counters.record(_label(method, resource, key is not None), token_value, app_id, status)
    if lost is not None:  # the post exists; the client must not learn it from this reply
        return lost_response(state, lost, _json(status, body, out_headers), "linkedin")
    return _json(status, body, out_headers)


async def upload_endpoint(request: Request) -> Response:
    """``PUT {uploadUrl}``: the URL is the credential (the token, if sent, is not needed)."""
    state: SandboxState = request.app.state.sandbox
    try:
        status, headers = linkedin_media.upload(
            state, request.path_params["key"], await request.body()
        )
        body = None
    except LinkedInError as err:
        status, body, headers = err.status, err.body(), {}
    state.counters.record("linkedin PUT /dms-uploads/{key}", None, None, status)
    return _json(status, body, headers)


async def _form(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )
    return params


async def oauth_endpoint(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    params = await _form(request)
    try:
        if action == "authorization" and request.method == "GET":
            return RedirectResponse(linkedin_oauth.authorization_redirect(state, params), 302)
        if action == "accessToken" and request.method == "POST":
            body = linkedin_oauth.access_token(state, params)
        elif action == "introspectToken" and request.method == "POST":
            body = linkedin_oauth.introspect(state, params)
        else:
            raise OAuthError(404, "not_found", f"Unknown OAuth endpoint {request.url.path}")
    except OAuthError as err:
        state.counters.record(
            f"linkedin {request.method} /oauth/v2/{action}", None, None, err.status
        )
        return Response(json.dumps(err.body()).encode(), err.status, media_type=JSON_TYPE)
    state.counters.record(
        f"linkedin {request.method} /oauth/v2/{action}", None, params.get("client_id"), 200
    )
    return Response(json.dumps(body).encode(), 200, media_type=JSON_TYPE)
