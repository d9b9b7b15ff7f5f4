"""LinkedIn OAuth 2: authorization (auto-consent), code exchange, refresh and introspection."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import unquote_plus, urlencode

from app.sandbox.entities import LINKEDIN, App
from app.sandbox.linkedin_errors import OAuthError
from app.sandbox.state import LINKEDIN_ACCESS_TTL, LINKEDIN_MEMBER_SCOPES, SandboxState

BAD_CODE = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)


def _client(state: SandboxState, params: dict[str, str], *, need_secret: bool = True) -> App:
    app = state.apps.get(params.get("client_id", ""))
    if app is None or app.platform != LINKEDIN:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    if need_secret:
        secret = params.get("client_secret", "")
        if not app.secret or not hmac.compare_digest(secret, app.secret):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
    return app


def _scopes(raw: str) -> tuple[str, ...]:
    return tuple(s for s in unquote_plus(raw).replace(",", " ").split() if s)


def authorization_redirect(state: SandboxState, params: dict[str, str]) -> str:
    """``/oauth/v2/authorization``: auto-consent as ``sandbox_member_id`` or the first member."""
    if params.get("response_type") != "code":
        raise OAuthError(400, "invalid_request", 'A required parameter "response_type" is missing')
    app = _client(state, params, need_secret=False)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or (app.redirect_uris and redirect_uri not in app.redirect_uris):
        raise OAuthError(
            400, "invalid_request", "The redirect_uri does not match the registered value"
        )
    member_id = params.get("sandbox_member_id") or next(iter(state.li_members), None)
    if member_id is None or member_id not in state.li_members:
        raise OAuthError(400, "invalid_request", "The sandbox has no LinkedIn member to log in as")
    scopes = _scopes(params["scope"]) if params.get("scope") else LINKEDIN_MEMBER_SCOPES
    code = state.issue_code(
        platform=LINKEDIN,
        app_id=app.id,
        subject_id=member_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
    )
    query = {"code": code.code}
    if "state" in params:
        query["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(query)}"


def access_token(state: SandboxState, params: dict[str, str]) -> dict[str, Any]:
    """``POST /oauth/v2/accessToken`` (form): ``authorization_code`` or ``refresh_token``."""
    grant = params.get("grant_type")
    if grant not in ("authorization_code", "refresh_token"):
        raise OAuthError(
            400, "invalid_request", 'A required parameter "grant_type" is missing or invalid'
        )
    app = _client(state, params)
    now = state.now()
    if grant == "authorization_code":
        code = state.codes.get(params.get("code", ""))
        if (
            code is None
            or code.platform != LINKEDIN
            or code.app_id != app.id
            or code.used
            or code.expires_at <= now
            or code.redirect_uri != params.get("redirect_uri")
        ):
            raise OAuthError(400, "invalid_request", BAD_CODE)
        code.used = True
        token = state.member_token(code.subject_id, app_id=app.id, scopes=code.scopes)
    else:
        refresh = state.refresh_tokens.get(params.get("refresh_token", ""))
        if (
            refresh is None
            or refresh.app_id != app.id
            or refresh.revoked
            or refresh.expires_at <= now
        ):
            raise OAuthError(
                400, "invalid_request", "The provided refresh token is invalid, expired or revoked"
            )
        token = state.member_token(
            refresh.member_id, app_id=app.id, scopes=refresh.scopes, with_refresh=False
        )
        token.refresh_token = refresh.value  # the refresh token keeps its original expiry
    out: dict[str, Any] = {
        "access_token": token.value,
        "expires_in": int(LINKEDIN_ACCESS_TTL) - 1,
        "scope": ",".join(token.scopes),
    }
    if token.refresh_token:
        refresh = state.refresh_tokens[token.refresh_token]
        out["refresh_token"] = refresh.value
        out["refresh_token_expires_in"] = max(0, int(refresh.expires_at - now))
    return out


def introspect(state: SandboxState, params: dict[str, str]) -> dict[str, Any]:
    """``POST /oauth/v2/introspectToken``: whether a token is still active."""
    app = _client(state, params)
    token = state.tokens.get(params.get("token", ""))
    if token is None or token.platform != LINKEDIN or token.app_id != app.id:
        return {"active": False}
    now = state.now()
    status = "active"
    if token.revoked:
        status = "revoked"
    elif token.expires_at is not None and token.expires_at <= now:
        status = "expired"
    return {
        "active": status == "active",
        "client_id": app.id,
        "authorized_at": int(token.issued_at),
        "created_at": int(token.issued_at),
        "status": status,
        "expires_at": int(token.expires_at) if token.expires_at else None,
        "scope": ",".join(token.scopes),
        "auth_type": "3L",
    }
