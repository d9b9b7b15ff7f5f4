"""The control API under ``/_sandbox/`` (JSON in, JSON out): build the world, steer time,
quotas and faults, read counters. Not part of any emulated platform."""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount, Route

from app.sandbox import seeds
from app.sandbox.clock import graph_time
from app.sandbox.control_base import ControlError, Ctl, endpoint
from app.sandbox.control_ops import (
    clock,
    counters,
    delete_post,
    faults,
    health,
    list_posts,
    post_metrics,
    quotas,
    save,
    seed_posts,
    settings,
)
from app.sandbox.control_publish import media_file, publish_faults, published
from app.sandbox.entities import KIND_PAGE, KIND_USER, LINKEDIN, META, SUBCODE_PASSWORD_CHANGED
from app.sandbox.state import (
    LINKEDIN_ACCESS_TTL,
    LINKEDIN_MEMBER_SCOPES,
    META_LONG_LIVED,
    META_USER_SCOPES,
)
from app.sandbox.world import build_world, token_info


@endpoint
async def world(ctl: Ctl) -> Any:
    return build_world(ctl.state, str(ctl.request.base_url).rstrip("/"))


@endpoint
async def reset(ctl: Ctl) -> Any:
    ctl.state.clear(ctl.field("world_seed", str))
    ctl.state.counters.reset()
    ctl.state.faults.clear()
    ctl.state.publish_faults.clear()
    seed = ctl.field("seed", str)
    if seed == "demo":
        seeds.build_demo(ctl.state, app_secret=ctl.field("app_secret", str))
    elif seed is not None:
        raise ControlError(400, "seed must be 'demo' or null")
    return build_world(ctl.state, str(ctl.request.base_url).rstrip("/"))


@endpoint
async def create_app(ctl: Ctl) -> Any:
    app = ctl.state.create_app(
        ctl.field("platform", str, required=True),
        name=ctl.field("name", str),
        app_id=ctl.field("app_id", str),
        secret=ctl.field("secret", str),
        require_appsecret_proof=ctl.field("require_appsecret_proof", bool, True),
        redirect_uris=ctl.field("redirect_uris", list),
        refresh_tokens=ctl.field("refresh_tokens", bool, True),
        quotas=ctl.field("quotas", dict),
    )
    return {"id": app.id, "platform": app.platform, "name": app.name, "secret": app.secret}


@endpoint
async def create_meta_user(ctl: Ctl) -> Any:
    user = ctl.state.create_meta_user(name=ctl.field("name", str))
    kwargs: dict[str, Any] = {"app_id": ctl.field("app_id", str)}
    if ctl.scopes() is not None:
        kwargs["scopes"] = ctl.scopes()
    if "expires_in" in ctl.body:
        kwargs["expires_in"] = ctl.field("expires_in", (int, float))
    token = ctl.state.user_token(user.id, **kwargs)
    return {"id": user.id, "name": user.name, **token_info(ctl.state, token)}


@endpoint
async def create_page(ctl: Ctl) -> Any:
    app = ctl.state.app_for(META, ctl.field("app_id", str))
    user_id = ctl.field("user_id", str)
    page = ctl.state.create_page(
        name=ctl.field("name", str),
        user_id=user_id,
        category=ctl.field("category", str, "Software"),
    )
    page.fan_count = ctl.field("fan_count", int, 0)
    owner = page.user_ids[0]
    user_token = next(
        (
            t
            for t in ctl.state.tokens.values()
            if t.kind == KIND_USER and t.subject_id == owner and t.app_id == app.id
        ),
        None,
    ) or ctl.state.user_token(owner, app_id=app.id)
    scopes = ctl.scopes() or user_token.scopes
    page_token = ctl.state.page_token(app.id, owner, page.id, scopes)
    return {
        "id": page.id,
        "name": page.name,
        "user_id": owner,
        "access_token": page_token.value,
        "user_access_token": user_token.value,
    }


@endpoint
async def create_ig_account(ctl: Ctl) -> Any:
    account = ctl.state.create_ig_account(
        ctl.field("page_id", str, required=True),
        username=ctl.field("username", str),
    )
    account.followers_count = ctl.field("followers_count", int, 0)
    return {"id": account.id, "page_id": account.page_id, "username": account.username}


@endpoint
async def create_li_org(ctl: Ctl) -> Any:
    org = ctl.state.create_li_org(name=ctl.field("name", str))
    return {"id": org.id, "urn": org.urn, "name": org.name}


@endpoint
async def create_li_member(ctl: Ctl) -> Any:
    admin_of = [str(o).rsplit(":", 1)[-1] for o in ctl.field("admin_of", list, [])]
    member = ctl.state.create_li_member(name=ctl.field("name", str), admin_of=admin_of)
    kwargs: dict[str, Any] = {
        "app_id": ctl.field("app_id", str),
        "scopes": ctl.scopes(),
    }
    if "expires_in" in ctl.body:
        kwargs["expires_in"] = ctl.field("expires_in", (int, float))
    token = ctl.state.member_token(member.id, **kwargs)
    return {
        "id": member.id,
        "urn": member.urn,
        "name": member.name,
        "admin_of": member.admin_of,
        **token_info(ctl.state, token),
    }


@endpoint
async def create_token(ctl: Ctl) -> Any:
    platform = ctl.field("platform", str, META)
    kind = ctl.field("kind", str, KIND_USER if platform == META else "member")
    subject = ctl.field("subject_id", str, required=True)
    if "expires_in" in ctl.body:  # null: never expires
        expires_in = ctl.field("expires_in", (int, float))
    else:
        expires_in = LINKEDIN_ACCESS_TTL if platform == LINKEDIN else META_LONG_LIVED
    scopes = ctl.scopes()
    app_id = ctl.field("app_id", str)
    if platform == LINKEDIN:
        token = ctl.state.member_token(subject, app_id=app_id, scopes=scopes, expires_in=expires_in)
    elif kind == KIND_USER:
        if subject not in ctl.state.meta_users:
            raise KeyError(f"unknown Meta user {subject}")
        token = ctl.state.user_token(
            subject, app_id=app_id, expires_in=expires_in, **({"scopes": scopes} if scopes else {})
        )
    elif kind == KIND_PAGE:
        page = ctl.state.pages.get(subject)
        if page is None:
            raise KeyError(f"unknown page {subject}")
        app = ctl.state.app_for(META, app_id)
        user_id = ctl.field("user_id", str, page.user_ids[0])
        token = ctl.state.issue_token(
            platform=META,
            kind=KIND_PAGE,
            app_id=app.id,
            subject_id=subject,
            scopes=scopes or META_USER_SCOPES,
            expires_in=expires_in if "expires_in" in ctl.body else None,
            user_id=user_id,
        )
    else:
        raise ControlError(400, "kind must be user or page (Meta) or member (LinkedIn)")
    return token_info(ctl.state, token)


@endpoint
async def expire_token(ctl: Ctl) -> Any:
    return token_info(
        ctl.state, ctl.state.expire_token(ctl.field("access_token", str, required=True))
    )


@endpoint
async def revoke_token(ctl: Ctl) -> Any:
    revoked = ctl.state.revoke_token(
        ctl.field("access_token", str, required=True),
        ctl.field("subcode", int, SUBCODE_PASSWORD_CHANGED),
    )
    return {"revoked": revoked}


@endpoint
async def create_code(ctl: Ctl) -> Any:
    platform = ctl.field("platform", str, META)
    app = ctl.state.app_for(platform, ctl.field("app_id", str))
    subject = ctl.field("subject_id", str, required=True)
    known = ctl.state.meta_users if platform == META else ctl.state.li_members
    if subject not in known:
        raise KeyError(f"unknown {platform} user {subject}")
    default_scopes = META_USER_SCOPES if platform == META else LINKEDIN_MEMBER_SCOPES
    code = ctl.state.issue_code(
        platform=platform,
        app_id=app.id,
        subject_id=subject,
        redirect_uri=ctl.field("redirect_uri", str, required=True),
        scopes=ctl.scopes() or default_scopes,
    )
    return {"code": code.code, "app_id": app.id, "expires_at": graph_time(code.expires_at)}


def control_routes() -> Mount:
    """All control endpoints, mounted under ``/_sandbox`` (one route match for the platforms)."""
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/world", world, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/apps", create_app, methods=["POST"]),
        Route("/meta/users", create_meta_user, methods=["POST"]),
        Route("/meta/pages", create_page, methods=["POST"]),
        Route("/meta/instagram-accounts", create_ig_account, methods=["POST"]),
        Route("/linkedin/organizations", create_li_org, methods=["POST"]),
        Route("/linkedin/members", create_li_member, methods=["POST"]),
        Route("/tokens", create_token, methods=["POST"]),
        Route("/tokens/expire", expire_token, methods=["POST"]),
        Route("/tokens/revoke", revoke_token, methods=["POST"]),
        Route("/oauth/codes", create_code, methods=["POST"]),
        Route("/posts", seed_posts, methods=["POST"]),
        Route("/posts", list_posts, methods=["GET"]),
        Route("/posts/{post_id:path}/metrics", post_metrics, methods=["GET"]),
        Route("/posts/{post_id:path}", delete_post, methods=["DELETE"]),
        Route("/quotas", quotas, methods=["GET", "PUT"]),
        Route("/settings", settings, methods=["GET", "PUT"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/faults/{rule_id:int}", faults, methods=["DELETE"]),
        Route("/publish-faults", publish_faults, methods=["GET", "POST", "DELETE"]),
        Route("/publish-faults/{rule_id:int}", publish_faults, methods=["DELETE"]),
        Route("/published", published, methods=["GET", "DELETE"]),
        Route("/media/{name}", media_file, methods=["GET"]),
        Route("/counters", counters, methods=["GET", "DELETE"]),
        Route("/clock", clock, methods=["GET", "PUT"]),
        Route("/clock/advance", clock, methods=["POST"]),
        Route("/save", save, methods=["POST"]),
    ]
    return Mount("/_sandbox", routes=routes)
