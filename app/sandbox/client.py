"""Typed async client for the sandbox control API (tests, benchmarks, ``postmeter demo``).

async with SandboxControl("http://127.0.0.1:9100") as ctl:
    world = await ctl.reset(seed="demo")
    page = await ctl.create_page(name="Shop")
    ids = await ctl.seed_posts("facebook", page["id"], 100_000, age_hours=(1, 720))
    await ctl.advance_clock(3600)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

from app.sandbox.client_publish import PublishingControl
from app.sandbox.entities import SUBCODE_PASSWORD_CHANGED
from app.sandbox.tokens import LINKEDIN_ACCESS_TTL, META_LONG_LIVED

Platform = Literal["meta", "linkedin"]
PostPlatform = Literal["facebook", "instagram", "linkedin"]
FaultKind = Literal["429", "5xx", "slow", "drop", "malformed", "batch_null"]


class SandboxControlError(Exception):
    """The control API refused a call (bad input, unknown id, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class SandboxControl(PublishingControl):
    """Client for ``/_sandbox/*``. Pass ``transport=httpx.ASGITransport(app)`` to run in-process.

    The publishing calls (``published``, ``published_counts``, ``set_publish_fault``, ...)
    come from `PublishingControl`.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:9100",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout
        )
        self._prefix = "/_sandbox" if client is None else f"{base_url.rstrip('/')}/_sandbox"

    async def __aenter__(self) -> SandboxControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._client.request(method, f"{self._prefix}{path}", json=body)
        data = response.json()
        if response.status_code >= 400:
            raise SandboxControlError(response.status_code, str(data.get("error", data)))
        return data

    # -- world ---------------------------------------------------------------------------

    async def health(self) -> bool:
        return bool((await self._call("GET", "/health"))["ok"])

    async def world(self) -> dict[str, Any]:
        """Everything a client needs: apps and secrets, accounts, tokens, base URLs, demo ids."""
        result: dict[str, Any] = await self._call("GET", "/world")
        return result

    async def reset(
        self,
        seed: Literal["demo"] | None = None,
        *,
        world_seed: str | None = None,
        app_secret: str | None = None,
    ) -> dict[str, Any]:
        """Forget everything (world, counters, faults); optionally rebuild the demo world."""
        body = _drop_none({"seed": seed, "world_seed": world_seed, "app_secret": app_secret})
        result: dict[str, Any] = await self._call("POST", "/reset", body)
        return result

    async def create_app(
        self,
        platform: Platform = "meta",
        *,
        name: str | None = None,
        app_id: str | None = None,
        secret: str | None = None,
        require_appsecret_proof: bool = True,
        redirect_uris: Sequence[str] | None = None,
        refresh_tokens: bool = True,
        quotas: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """``{id, platform, name, secret}``; ``quotas`` override the global ones for this app."""
        body = _drop_none(
            {
                "platform": platform,
                "name": name,
                "app_id": app_id,
                "secret": secret,
                "require_appsecret_proof": require_appsecret_proof,
                "redirect_uris": list(redirect_uris) if redirect_uris is not None else None,
                "refresh_tokens": refresh_tokens,
                "quotas": quotas,
            }
        )
        result: dict[str, Any] = await self._call("POST", "/apps", body)
        return result

    async def create_meta_user(
        self,
        *,
        name: str | None = None,
        app_id: str | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: float | None = META_LONG_LIVED,
    ) -> dict[str, Any]:
        """A Meta user with a user token: ``{id, name, access_token, expires_at, scopes, ...}``."""
        body = _drop_none(
            {"name": name, "app_id": app_id, "scopes": list(scopes) if scopes else None}
        )
        body["expires_in"] = expires_in
        result: dict[str, Any] = await self._call("POST", "/meta/users", body)
        return result

    async def create_page(
        self,
        *,
        name: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        category: str | None = None,
        fan_count: int = 0,
        scopes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A page and, unless ``user_id`` is given, its admin user.

        Returns ``{id, name, user_id, access_token, user_access_token}``.
        """
        body = _drop_none(
            {
                "name": name,
                "user_id": user_id,
                "app_id": app_id,
                "category": category,
                "fan_count": fan_count,
                "scopes": list(scopes) if scopes else None,
            }
        )
        result: dict[str, Any] = await self._call("POST", "/meta/pages", body)
        return result

    async def create_ig_account(
        self, page_id: str, *, username: str | None = None, followers_count: int = 0
    ) -> dict[str, Any]:
        """An Instagram business account linked to ``page_id``: ``{id, page_id, username}``."""
        body = _drop_none(
            {"page_id": page_id, "username": username, "followers_count": followers_count}
        )
        result: dict[str, Any] = await self._call("POST", "/meta/instagram-accounts", body)
        return result

    async def create_linkedin_org(self, *, name: str | None = None) -> dict[str, Any]:
        """``{id, urn, name}``."""
        result: dict[str, Any] = await self._call(
            "POST", "/linkedin/organizations", _drop_none({"name": name})
        )
        return result

    async def create_linkedin_member(
        self,
        *,
        name: str | None = None,
        admin_of: Sequence[str] = (),
        app_id: str | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: float | None = LINKEDIN_ACCESS_TTL,
    ) -> dict[str, Any]:
        """A member, admin of the ``admin_of`` orgs (ids or URNs), with a token.

        Returns ``{id, urn, name, admin_of, access_token, refresh_token, expires_at, ...}``.
        """
        body = _drop_none(
            {
                "name": name,
                "admin_of": list(admin_of),
                "app_id": app_id,
                "scopes": list(scopes) if scopes else None,
            }
        )
        body["expires_in"] = expires_in
        result: dict[str, Any] = await self._call("POST", "/linkedin/members", body)
        return result

    async def create_token(
        self,
        platform: Platform,
        subject_id: str,
        *,
        kind: Literal["user", "page", "member"] | None = None,
        app_id: str | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: float | None = META_LONG_LIVED,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Another token for a user, page or member; ``expires_in=None`` never expires.

        The default, 60 days, is a long-lived Meta token and a LinkedIn access token alike.
        """
        body = _drop_none(
            {
                "platform": platform,
                "subject_id": subject_id,
                "kind": kind,
                "app_id": app_id,
                "scopes": list(scopes) if scopes else None,
                "user_id": user_id,
            }
        )
        body["expires_in"] = expires_in
        result: dict[str, Any] = await self._call("POST", "/tokens", body)
        return result

    async def create_oauth_code(
        self,
        platform: Platform,
        subject_id: str,
        redirect_uri: str,
        *,
        app_id: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> str:
        """An authorization code as the consent dialog would have issued it."""
        body = _drop_none(
            {
                "platform": platform,
                "subject_id": subject_id,
                "redirect_uri": redirect_uri,
                "app_id": app_id,
                "scopes": list(scopes) if scopes else None,
            }
        )
        return str((await self._call("POST", "/oauth/codes", body))["code"])

    async def expire_token(self, access_token: str) -> dict[str, Any]:
        """Make a token expired now (Graph: 190/463; LinkedIn: 401 EXPIRED_ACCESS_TOKEN)."""
        result: dict[str, Any] = await self._call(
            "POST", "/tokens/expire", {"access_token": access_token}
        )
        return result

    async def revoke_token(
        self, access_token: str, *, subcode: int = SUBCODE_PASSWORD_CHANGED
    ) -> list[str]:
        """Invalidate a token (a user token takes its page tokens along); returns those revoked."""
        body = {"access_token": access_token, "subcode": subcode}
        return list((await self._call("POST", "/tokens/revoke", body))["revoked"])

    # -- posts ---------------------------------------------------------------------------

    async def seed_posts(
        self,
        platform: PostPlatform,
        owner_id: str,
        count: int = 1,
        *,
        media_type: str | Sequence[str] | None = None,
        product_type: Literal["FEED", "REELS", "STORY"] | None = None,
        age_hours: float | tuple[float, float] = 0.0,
        message: str | None = None,
        link: str | None = None,
        urn_kind: Literal["share", "ugcPost"] = "share",
        return_ids: bool = True,
    ) -> list[str]:
        """Create ``count`` posts in one call (100k is fine); a ``(min, max)`` age spreads them."""
        body = _drop_none(
            {
                "platform": platform,
                "owner_id": owner_id,
                "count": count,
                "media_type": media_type
                if isinstance(media_type, str | None)
                else list(media_type),
                "product_type": product_type,
                "age_hours": list(age_hours) if isinstance(age_hours, tuple) else age_hours,
                "message": message,
                "link": link,
                "urn_kind": urn_kind,
                "return_ids": return_ids,
            }
        )
        return list((await self._call("POST", "/posts", body))["ids"])

    async def list_posts(
        self, *, owner_id: str | None = None, platform: PostPlatform | None = None
    ) -> list[dict[str, Any]]:
        """Live posts (of one owner / platform): id, platform, media_type, created_at, ..."""
        params = _drop_none({"owner_id": owner_id, "platform": platform})
        response = await self._client.get(f"{self._prefix}/posts", params=params)
        if response.status_code >= 400:
            raise SandboxControlError(response.status_code, response.text)
        return list(response.json()["posts"])

    async def delete_post(self, post_id: str) -> None:
        await self._call("DELETE", f"/posts/{quote(post_id, safe=':')}")

    async def post_metrics(self, post_id: str) -> dict[str, Any]:
        """The raw counters behind a post at the current sandbox time (for assertions)."""
        result: dict[str, Any] = await self._call(
            "GET", f"/posts/{quote(post_id, safe=':')}/metrics"
        )
        return result

    # -- quotas, settings, faults ----------------------------------------------------------

    async def quotas(self) -> dict[str, int]:
        result: dict[str, int] = await self._call("GET", "/quotas")
        return result

    async def set_quotas(self, *, app_id: str | None = None, **quotas: int) -> dict[str, Any]:
        """Change global quotas, or one app's overrides with ``app_id``."""
        result: dict[str, Any] = await self._call(
            "PUT", "/quotas", _drop_none({"app_id": app_id, **quotas})
        )
        return result

    async def set_settings(self, **values: float | bool) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("PUT", "/settings", dict(values))
        return result

    async def set_time_paging(self, enabled: bool) -> dict[str, Any]:
        """Turn the time-paging links of Graph insights replies on (the default) or off."""
        return await self.set_settings(meta_time_paging=enabled)

    async def set_batch_null(
        self, *, rate: float = 1.0, count: int | None = None, seed: int | None = None
    ) -> dict[str, Any]:
        """Answer ``null`` for a share ``rate`` of Graph batch items (at most ``count`` items),
        as Graph does for sub-requests it did not run."""
        return await self.set_fault("/v*", "batch_null", rate=rate, method="POST",
                                    platform="meta", count=count, seed=seed)  # fmt: skip

    async def set_fault(
        self,
        endpoint: str = "*",
        kind: FaultKind = "5xx",
        *,
        rate: float = 1.0,
        latency_ms: int = 0,
        status: int = 503,
        method: str | None = None,
        platform: Platform | None = None,
        count: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Inject a fault on paths matching the glob ``endpoint``; ``seed`` makes it repeatable."""
        body = _drop_none(
            {
                "endpoint": endpoint,
                "kind": kind,
                "rate": rate,
                "latency_ms": latency_ms,
                "status": status,
                "method": method,
                "platform": platform,
                "count": count,
                "seed": seed,
            }
        )
        result: dict[str, Any] = await self._call("POST", "/faults", body)
        return result

    async def faults(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/faults"))["faults"])

    async def clear_faults(self, rule_id: int | None = None) -> int:
        path = "/faults" if rule_id is None else f"/faults/{rule_id}"
        return int((await self._call("DELETE", path))["removed"])

    # -- counters and clock -----------------------------------------------------------------

    async def counters(self) -> dict[str, Any]:
        """Calls per endpoint/token/app/status, errors by code, posts created, faults, throttles."""
        result: dict[str, Any] = await self._call("GET", "/counters")
        return result

    async def reset_counters(self, *, usage: bool = True) -> None:
        """Zero the counters; ``usage=True`` also empties the rate-limit windows."""
        await self._call("DELETE", "/counters", {"usage": usage})

    async def clock(self) -> datetime:
        return datetime.fromisoformat((await self._call("GET", "/clock"))["now"])

    async def advance_clock(self, seconds: float) -> datetime:
        """Move sandbox time forward (tokens expire, metrics grow, windows roll)."""
        return datetime.fromisoformat(
            (await self._call("POST", "/clock/advance", {"seconds": seconds}))["now"]
        )

    async def set_clock(
        self, *, speed: float | None = None, now: datetime | None = None
    ) -> datetime:
        """Change the clock speed (0 freezes it) and/or jump forward to ``now``."""
        body = _drop_none({"speed": speed, "now": now.timestamp() if now else None})
        return datetime.fromisoformat((await self._call("PUT", "/clock", body))["now"])

    async def save(self) -> str:
        """Write the state file now (only when the sandbox runs with one)."""
        return str((await self._call("POST", "/save"))["saved"])
