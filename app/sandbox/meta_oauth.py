"""Meta OAuth: the login dialog (auto-consent), code exchange, long-lived tokens, debug_token."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode

from app.sandbox.entities import KIND_APP, KIND_PAGE, KIND_USER, META, App
from app.sandbox.fields import split_list
from app.sandbox.graph_errors import GraphError, bad_token, invalid_parameter
from app.sandbox.meta_auth import GraphRequest, resolve_token, token_problem
from app.sandbox.state import META_LONG_LIVED, META_USER_SCOPES, SandboxState

SHORT_LIVED = 3600.0


def _client(state: SandboxState, params: dict[str, str], *, need_secret: bool = True) -> App:
    app = state.apps.get(params.get("client_id", ""))
    if app is None or app.platform != META:
        raise GraphError(101, "Error validating application. Invalid application ID.")
    if need_secret:
        secret = params.get("client_secret", "")
        if not app.secret or not hmac.compare_digest(secret, app.secret):
            raise GraphError(1, "Error validating client secret.")
    return app


def dialog_redirect(state: SandboxState, params: dict[str, str]) -> str:
    """``/dialog/oauth``: automatic consent, as ``sandbox_user_id`` or the first user."""
    app = _client(state, params, need_secret=False)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or (app.redirect_uris and redirect_uri not in app.redirect_uris):
        raise GraphError(
            191, "Can't load URL: The domain of this URL isn't included in the app's domains."
        )
    user_id = params.get("sandbox_user_id") or next(iter(state.meta_users), None)
    if user_id is None or user_id not in state.meta_users:
        raise invalid_parameter("The sandbox has no Meta user to log in as")
    scopes = tuple(split_list(params["scope"])) if params.get("scope") else META_USER_SCOPES
    code = state.issue_code(
        platform=META, app_id=app.id, subject_id=user_id, redirect_uri=redirect_uri, scopes=scopes
    )
    query = {"code": code.code}
    if "state" in params:
        query["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(query)}#_=_"


def access_token(state: SandboxState, req: GraphRequest) -> dict[str, Any]:
    """``/oauth/access_token``: code exchange, ``fb_exchange_token`` and client credentials."""
    params = req.params
    app = _client(state, params)
    grant = params.get("grant_type")
    if grant == "client_credentials":
        return {"access_token": state.app_token_value(app), "token_type": "bearer"}
    if grant == "fb_exchange_token":
        old = state.tokens.get(params.get("fb_exchange_token", ""))
        if old is None or old.app_id != app.id or old.kind != KIND_USER:
            raise bad_token()
        problem = token_problem(old, state.now())
        if problem is not None:
            raise problem
        token = state.user_token(
            old.subject_id, app_id=app.id, scopes=old.scopes, expires_in=META_LONG_LIVED
        )
        return {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": int(META_LONG_LIVED),
        }
    code = state.codes.get(params.get("code", ""))
    if code is None or code.platform != META:
        raise invalid_parameter("Invalid verification code format.", 36004)
    if code.app_id != app.id:
        raise invalid_parameter("Invalid verification code format.", 36004)
    if code.used:
        raise invalid_parameter("This authorization code has been used.", 36009)
    if code.expires_at <= state.now():
        raise invalid_parameter("This authorization code has expired.", 36007)
    if params.get("redirect_uri") != code.redirect_uri:
        raise invalid_parameter(
            "Error validating verification code. Please make sure your redirect_uri is identical "
            "to the one you used in the OAuth dialog request",
            36008,
        )
    code.used = True
    token = state.user_token(
        code.subject_id, app_id=app.id, scopes=code.scopes, expires_in=SHORT_LIVED
    )
    return {"access_token": token.value, "token_type": "bearer", "expires_in": int(SHORT_LIVED)}


def debug_token(state: SandboxState, req: GraphRequest) -> dict[str, Any]:
    """``/debug_token?input_token=``: inspect any token; the caller needs a valid token."""
    caller, caller_app = resolve_token(state, req.token or "")
    if caller is None or caller_app is None or token_problem(caller, state.now()) is not None:
        raise bad_token()
    value = req.params.get("input_token")
    if not value:
        raise invalid_parameter("The parameter input_token is required")
    token, app = resolve_token(state, value)
    if token is None or app is None:
        return {
            "data": {
                "error": {
                    "code": 190,
                    "message": "Invalid OAuth access token - Cannot parse access token",
                },
                "is_valid": False,
                "scopes": [],
            }
        }
    kinds = {KIND_USER: "USER", KIND_PAGE: "PAGE", KIND_APP: "APP"}
    data: dict[str, Any] = {
        "app_id": app.id,
        "type": kinds.get(token.kind, "USER"),
        "application": app.name,
        "is_valid": True,
        "scopes": list(token.scopes),
        "granular_scopes": [{"scope": scope} for scope in token.scopes],
    }
    if token.kind != KIND_APP:
        data["data_access_expires_at"] = int(token.issued_at + 90 * 86_400)
        data["expires_at"] = int(token.expires_at) if token.expires_at is not None else 0
        data["issued_at"] = int(token.issued_at)
        data["user_id"] = token.user_id
        if token.kind == KIND_PAGE:
            data["profile_id"] = token.subject_id
    problem = token_problem(token, state.now())
    if problem is not None:
        data["is_valid"] = False
        error: dict[str, Any] = {"code": problem.code, "message": problem.message}
        if problem.subcode is not None:
            error["subcode"] = problem.subcode
        data["error"] = error
    return {"data": data}
