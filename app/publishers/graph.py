"""Graph API calls for the Facebook and Instagram publishers.

POSTs carry the credentials (``access_token`` and, when the app secret is known,
``appsecret_proof``) in the form body, never in the URL. Reads and paging go through the
insights' `GraphTransport.get_next_page`, which keeps the token off hosts named in replies.
Errors are classified by the platform home's `classify_publish_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from app.core.vocabulary import Provider
from app.integrations.errors import Provider as ErrorSource
from app.integrations.graph_batch import GraphTransport, appsecret_proof
from app.integrations.http import RetryPolicy
from app.integrations.platforms import platform_for
from app.publishers.calls import json_object, malformed_create_reply, send_create, send_safe


def parse_graph_time(value: Any) -> datetime | None:
    """Graph's ``2026-09-01T10:00:05+0000`` (or ISO with ``Z``) as an aware datetime."""
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


class GraphPublishing:
    """One platform's Graph calls (Facebook or Instagram) over the shared pooled client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: Provider,
        api_version: str,
        app_secret: str | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._home = platform_for(provider)
        self.source: ErrorSource = "facebook" if provider is Provider.FACEBOOK else "instagram"
        self._version = api_version
        self._app_secret = app_secret
        self._retry = retry or RetryPolicy()
        self._reader = GraphTransport(
            http, api_version=api_version, app_secret=app_secret, retry=self._retry
        )

    def _auth(self, token: str) -> dict[str, str]:
        auth = {"access_token": token}
        if self._app_secret:
            auth["appsecret_proof"] = appsecret_proof(token, self._app_secret)
        return auth

    def _form(self, path: str, token: str, data: Mapping[str, str]) -> httpx.Request:
        return self._http.build_request(
            "POST",
            f"/{self._version}/{path.lstrip('/')}",
            content=urlencode({**data, **self._auth(token)}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def post(self, token: str, path: str, data: Mapping[str, str]) -> dict[str, Any]:
        """A redo-safe POST (a container, an unpublished photo), retried when transient."""
        response = await send_safe(
            self._http,
            lambda: self._form(path, token, data),
            provider=self.source,
            classify=self._home.classify_publish_error,
            retry=self._retry,
            secrets=self._auth(token).values(),
        )
        return json_object(response, provider=self.source)

    async def create(
        self, token: str, path: str, data: Mapping[str, str], *, id_field: str = "id"
    ) -> dict[str, Any]:
        """The irreversible POST, sent once; the reply must name the post in `id_field`."""
        response = await send_create(
            self._http,
            self._form(path, token, data),
            provider=self.source,
            classify=self._home.classify_publish_error,
            secrets=self._auth(token).values(),
        )
        try:
            body = json_object(response, provider=self.source)
        except Exception:  # noqa: BLE001 - any unreadable 2xx: the post may exist
            raise malformed_create_reply(self.source, response) from None
        if not isinstance(body.get(id_field), str | int) or not str(body[id_field]):
            raise malformed_create_reply(self.source, response)
        return body

    async def get(self, token: str, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """A read (status, listing page), retried when transient."""
        url = f"/{path.lstrip('/')}?{urlencode(params)}" if params else f"/{path.lstrip('/')}"
        return dict(await self._reader.get_next_page(token, url, provider=self.source))

    async def follow(self, token: str, next_url: str) -> dict[str, Any]:
        """The next page of a listing (only its path and non-credential parameters are used)."""
        return dict(await self._reader.get_next_page(token, next_url, provider=self.source))

    async def list_since(
        self,
        token: str,
        path: str,
        params: Mapping[str, str],
        *,
        since: datetime,
        created_field: str,
        max_pages: int = 4,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A listing's items back to `since`, and whether it was read that far (`complete`).

        Order is not documented (research §1.5): every fetched page is kept and read on until a
        page holds an item older than `since` or there is no next page.
        """
        page = await self.get(token, path, params)
        items: list[dict[str, Any]] = []
        for _ in range(max_pages):
            data = [d for d in page.get("data") or [] if isinstance(d, dict)]
            items.extend(data)
            older = any((parse_graph_time(d.get(created_field)) or since) < since for d in data)
            paging = page.get("paging")
            next_url = paging.get("next") if isinstance(paging, dict) else None
            if older or not data or not isinstance(next_url, str):
                return items, True
            page = await self.follow(token, next_url)
        return items, False
