"""Fixtures: an in-process sandbox (frozen clock, demo world) driven over httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.sandbox.client import SandboxControl
from app.sandbox.clock import SandboxClock
from app.sandbox.meta_auth import appsecret_proof
from app.sandbox.server import create_sandbox_app
from app.sandbox.state import SandboxState

GRAPH = "/v24.0"
LI_VERSION = "202610"
# A fixed start keeps version windows and ages stable whenever the tests run.
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()


def frozen_state() -> SandboxState:
    """A fresh state whose clock stands at START (speed 0: it only moves when advanced)."""
    return SandboxState(world_seed="demo", clock=SandboxClock(start=START, speed=0.0))


@pytest.fixture
def sandbox_state() -> SandboxState:
    return frozen_state()


@pytest.fixture
def app(sandbox_state: SandboxState) -> Starlette:
    return create_sandbox_app(sandbox_state, seed="demo")


@pytest.fixture
def demo(sandbox_state: SandboxState) -> dict[str, Any]:
    return dict(sandbox_state.demo)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


@pytest.fixture
async def ctl(app: Starlette) -> AsyncIterator[SandboxControl]:
    async with SandboxControl("http://sandbox", transport=httpx.ASGITransport(app=app)) as control:
        yield control


class Graph:
    """Graph calls with the token and its appsecret_proof filled in."""

    def __init__(self, client: httpx.AsyncClient, secret: str) -> None:
        self.client = client
        self.secret = secret

    def params(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        out = dict(params)
        if token is not None:
            out["access_token"] = token
            out.setdefault("appsecret_proof", appsecret_proof(self.secret, token))
        return out

    async def get(self, path: str, token: str | None, **params: Any) -> httpx.Response:
        return await self.client.get(f"{GRAPH}{path}", params=self.params(token, params))

    async def post(self, path: str, token: str | None, **params: Any) -> httpx.Response:
        return await self.client.post(f"{GRAPH}{path}", data=self.params(token, params))


@pytest.fixture
def graph(client: httpx.AsyncClient, demo: dict[str, Any]) -> Graph:
    return Graph(client, demo["meta_app_secret"])


def li_headers(token: str | None, version: str = LI_VERSION) -> dict[str, str]:
    headers = {"LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def posts_of(state: SandboxState, owner_id: str, **match: str) -> list[str]:
    out = []
    for post_id in state.posts_by_owner[owner_id]:
        post = state.posts[post_id]
        if all(getattr(post, key) == value for key, value in match.items()):
            out.append(post_id)
    return out
