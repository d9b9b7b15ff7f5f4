"""Graph request model, token checks (expiry, invalidation, appsecret_proof) and access rules."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from app.sandbox.entities import KIND_APP, KIND_PAGE, KIND_USER, META, App, Token
from app.sandbox.graph_errors import (
    GraphError,
    appsecret_proof_invalid,
    appsecret_proof_missing,
    bad_token,
    expired_token,
    invalidated_token,
    missing_permission,
)
from app.sandbox.state import SandboxState


@dataclass(slots=True)
class GraphRequest:
    """One Graph call, from HTTP or from a batch item."""

    method: str
    version: str  # "v24.0"
    segments: list[str]
    params: dict[str, str]
    token: str | None
    base_url: str = "http://127.0.0.1:9100"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Caller:
    """The authenticated caller of a Graph request."""

    token: Token
    app: App

    @property
    def is_page(self) -> bool:
        return self.token.kind == KIND_PAGE

    @property
    def is_user(self) -> bool:
        return self.token.kind == KIND_USER

    @property
    def user_id(self) -> str | None:
        return self.token.user_id


def token_from_header(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value:
        return value.strip()
    return None


def resolve_token(state: SandboxState, value: str) -> tuple[Token | None, App | None]:
    """A stored token, or an app token ``{app-id}|{app-secret}``."""
    token = state.tokens.get(value)
    if token is not None:
        if token.platform != META:
            return None, None
        return token, state.apps.get(token.app_id)
    app_id, sep, secret = value.partition("|")
    if sep:
        app = state.apps.get(app_id)
        if app is not None and app.platform == META and app.secret == secret:
            synthetic = Token(value, META, KIND_APP, app.id, app.id, (), 0.0)
            return synthetic, app
    return None, None


def token_problem(token: Token, now: float) -> GraphError | None:
    """Why a known token cannot be used (invalidated or expired), if it cannot."""
    if token.invalid_subcode is not None:
        return invalidated_token(token.invalid_subcode)
    if token.expires_at is not None and token.expires_at <= now:
        return expired_token(token.expires_at, now)
    return None


def appsecret_proof(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def authenticate(state: SandboxState, req: GraphRequest) -> Caller:
    """Validate the access token and the appsecret_proof; raises :class:`GraphError`."""
    if not req.token:
        raise GraphError(104, "An access token is required to request this resource.")
    token, app = resolve_token(state, req.token)
    if token is None or app is None:
        raise bad_token()
    problem = token_problem(token, state.now())
    if problem is not None:
        raise problem
    if app.secret and token.kind != KIND_APP:
        proof = req.params.get("appsecret_proof")
        if proof is None:
            if app.require_appsecret_proof:
                raise appsecret_proof_missing()
        elif not hmac.compare_digest(proof, appsecret_proof(app.secret, token.value)):
            raise appsecret_proof_invalid()
    return Caller(token, app)


def require_scope(caller: Caller, scope: str) -> None:
    if scope not in caller.token.scopes:
        raise missing_permission(scope)


def can_access_page(state: SandboxState, caller: Caller, page_id: str) -> bool:
    token = caller.token
    if token.kind == KIND_PAGE:
        return token.subject_id == page_id
    if token.kind == KIND_USER:
        page = state.pages.get(page_id)
        return page is not None and token.subject_id in page.user_ids
    return False


def can_access_ig(state: SandboxState, caller: Caller, ig_user_id: str) -> bool:
    account = state.ig_accounts.get(ig_user_id)
    return account is not None and can_access_page(state, caller, account.page_id)
