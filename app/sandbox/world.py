"""``GET /_sandbox/world``: everything a client needs (ids, tokens, secrets, base URLs)."""

from __future__ import annotations

from typing import Any

from app.sandbox.clock import graph_time
from app.sandbox.entities import KIND_PAGE, KIND_USER, LINKEDIN, META, Token
from app.sandbox.state import SandboxState


def token_info(state: SandboxState, token: Token) -> dict[str, Any]:
    now = state.now()
    valid = token.invalid_subcode is None and not token.revoked
    valid = valid and (token.expires_at is None or token.expires_at > now)
    out: dict[str, Any] = {
        "access_token": token.value,
        "platform": token.platform,
        "kind": token.kind,
        "app_id": token.app_id,
        "subject_id": token.subject_id,
        "scopes": list(token.scopes),
        "expires_at": graph_time(token.expires_at) if token.expires_at is not None else None,
        "valid": valid,
    }
    if token.user_id and token.kind == KIND_PAGE:
        out["user_id"] = token.user_id
    if token.refresh_token:
        out["refresh_token"] = token.refresh_token
    return out


def _latest(state: SandboxState, kind: str, subject_id: str) -> str | None:
    """The newest still-usable token of a subject."""
    found = None
    for token in state.tokens.values():
        if token.kind == kind and token.subject_id == subject_id and token.invalid_subcode is None:
            found = token.value
    return found


def build_world(state: SandboxState, base_url: str) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for post in state.posts.values():
        if not post.deleted:
            counts[post.platform] = counts.get(post.platform, 0) + 1
    apps = [
        {
            "id": app.id,
            "platform": app.platform,
            "name": app.name,
            "secret": app.secret,
            "require_appsecret_proof": app.require_appsecret_proof,
            "refresh_tokens": app.refresh_tokens,
            "quotas": app.quotas,
        }
        for app in state.apps.values()
    ]
    return {
        "now": graph_time(state.now()),
        "clock_speed": state.clock.speed,
        "world_seed": state.world_seed,
        "base_urls": {
            "meta_graph_api": base_url,
            "linkedin_api": base_url,
            "linkedin_oauth": base_url,
            "control": f"{base_url}/_sandbox",
        },
        "meta": {
            "apps": [a for a in apps if a["platform"] == META],
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "page_ids": u.page_ids,
                    "access_token": _latest(state, KIND_USER, u.id),
                }
                for u in state.meta_users.values()
            ],
            "pages": [
                {
                    "id": p.id,
                    "name": p.name,
                    "access_token": _latest(state, KIND_PAGE, p.id),
                    "instagram_business_account": p.ig_user_id,
                }
                for p in state.pages.values()
            ],
            "instagram_accounts": [
                {"id": a.id, "username": a.username, "page_id": a.page_id}
                for a in state.ig_accounts.values()
            ],
        },
        "linkedin": {
            "apps": [a for a in apps if a["platform"] == LINKEDIN],
            "organizations": [
                {"id": o.id, "urn": o.urn, "name": o.name} for o in state.li_orgs.values()
            ],
            "members": [
                {
                    "id": m.id,
                    "urn": m.urn,
                    "name": m.name,
                    "admin_of": m.admin_of,
                    "access_token": _latest(state, "member", m.id),
                }
                for m in state.li_members.values()
            ],
        },
        "posts": counts,
        "demo": state.demo,
    }


def client_env(world: dict[str, Any]) -> dict[str, str]:
    """The client settings that point Postmeter at this sandbox, from ``build_world()``.

    The app credentials matter as much as the base URLs: the sandbox's Meta apps require
    ``appsecret_proof`` (as real apps can), so a client without ``META_APP_SECRET`` gets
    code 100 on every Graph call.
    """
    base = world["base_urls"]
    env = {"META_GRAPH_API_BASE": base["meta_graph_api"], "LINKEDIN_API_BASE": base["linkedin_api"]}
    names = (("meta", "META_APP_ID", "META_APP_SECRET"),
             ("linkedin", "LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"))  # fmt: skip
    for platform, id_name, secret_name in names:
        apps = world[platform]["apps"]
        if apps:  # the first app is the one the demo's tokens belong to
            env[id_name] = apps[0]["id"]
            if apps[0]["secret"]:
                env[secret_name] = apps[0]["secret"]
    return env
