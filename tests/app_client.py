"""An httpx client for a Postmeter app with its lifespan running, as a server runs it.

httpx's ASGITransport sends requests only: it never runs the app's lifespan, so the services
the lifespan builds would be missing. This runs the lifespan around the client and gives each
request a copy of the lifespan state, as uvicorn does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def app_client(
    app: FastAPI, *, base_url: str = "http://testserver", raise_app_exceptions: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app) as lifespan_state:
        state: dict[str, Any] = dict(lifespan_state or {})

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                scope = {**scope, "state": dict(state)}
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
