"""The platform sandbox in-process, Postmeter pointed at it (a pytest plugin of tests/conftest.py).

Tests marked `sandbox` (or under tests/workers) get Settings aimed at the sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import Provider
from app.sandbox.client import SandboxControl
from app.sandbox.server import create_sandbox_app
from app.services.insights_refresh import InsightsRefresher
from app.services.platform_clients import build_platform_clients
from app.services.workspaces import create_api_key
from tests.app_client import app_client
from tests.conftest import make_settings
from tests.factories import make_account, track_posts

SANDBOX = "http://sandbox.test"
APP_SECRET = "sandbox-app-secret"


@pytest.fixture
def sandbox_app() -> Any:
    return create_sandbox_app(seed="demo", app_secret=APP_SECRET)


@pytest.fixture
def sandbox_transport(sandbox_app: Any) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=sandbox_app)


@pytest.fixture
async def ctl(sandbox_transport: httpx.ASGITransport) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(SANDBOX, transport=sandbox_transport) as control:
        yield control


@pytest.fixture
async def demo(ctl: SandboxControl) -> dict[str, Any]:
    return dict((await ctl.world())["demo"])


def sandbox_settings(tmp: Path, database_url: str, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "META_GRAPH_API_BASE": SANDBOX,
        "LINKEDIN_API_BASE": SANDBOX,
        "META_APP_SECRET": APP_SECRET,
        "INSIGHTS_MAX_ATTEMPTS": 2,
        **over,
    }
    return make_settings(tmp, database_url, **values)


@pytest.fixture
async def refresher(
    runtime: Runtime, sandbox_transport: httpx.ASGITransport
) -> AsyncIterator[InsightsRefresher]:
    clients = build_platform_clients(runtime.settings, transport=sandbox_transport)
    yield InsightsRefresher(runtime, clients)
    await clients.aclose()


@dataclass
class World:
    """Sandbox posts tracked by one Postmeter workspace, per provider."""

    workspace_id: Any
    accounts: dict[str, Any]
    rows: dict[str, list[Any]]  # provider key -> schedule_external row ids
    schedules: dict[str, list[Any]]
    external_ids: dict[str, list[str]]

    async def owner_headers(self, runtime: Runtime) -> dict[str, str]:
        """API headers with a new key of the workspace that tracks these posts."""
        async with runtime.sessionmaker() as session, session.begin():
            key = await create_api_key(session, workspace_id=self.workspace_id)
        return {"Authorization": f"Bearer {key.plaintext}"}


async def build_world(
    runtime: Runtime, ctl: SandboxControl, demo: dict[str, Any], counts: dict[str, int]
) -> World:
    """Seed posts in the sandbox and track them in Postmeter (keys: fb, ig, li_org, li_member)."""
    ws = None
    accounts: dict[str, Any] = {}
    specs = {
        "fb": (Provider.FACEBOOK, demo["page_id"], demo["page_token"], "facebook", demo["page_id"]),
        "ig": (
            Provider.INSTAGRAM,
            demo["ig_user_id"],
            demo["page_token"],
            "instagram",
            demo["ig_user_id"],
        ),
        "li_org": (
            Provider.LINKEDIN,
            demo["org_urn"],
            demo["org_admin_token"],
            "linkedin",
            demo["org_id"],
        ),
        "li_member": (
            Provider.LINKEDIN,
            demo["member_urn"],
            demo["member_token"],
            "linkedin",
            demo["member_id"],
        ),
    }
    world = World(None, {}, {}, {}, {})
    for key, count in counts.items():
        provider, ext, token, platform, owner = specs[key]
        ws, acc = await make_account(
            runtime, workspace_id=ws, provider=provider, external_id=ext, token=token
        )
        accounts[key] = acc
        kwargs: dict[str, Any] = {"age_hours": (1.0, 200.0)}
        if key == "fb":
            kwargs["media_type"] = ["status", "photo", "video", "link"]
        if key == "ig":
            kwargs["media_type"] = ["IMAGE", "CAROUSEL_ALBUM", "VIDEO"]
        ids = await ctl.seed_posts(platform, owner, count, **kwargs)  # type: ignore[arg-type]
        posts = await track_posts(
            runtime, workspace_id=ws, account_id=acc, provider=provider, external_ids=ids
        )
        world.rows[key] = [p.external_row_id for p in posts]
        world.schedules[key] = [p.schedule_id for p in posts]
        world.external_ids[key] = ids
    world.workspace_id = ws
    world.accounts = accounts
    return world


@pytest.fixture
async def api(runtime: Runtime, refresher: InsightsRefresher) -> AsyncIterator[httpx.AsyncClient]:
    """The Postmeter API, its platform clients routed to the in-process sandbox."""
    from app.main import create_app

    app = create_app(runtime.settings, runtime=runtime, refresher=refresher)
    async with app_client(app) as client:
        yield client


# The demo world's Meta accounts as a new workspace connects them: (provider, account id key,
# token key, media type of the seeded posts). `ig_user` uses the Meta *user* token, whose calls
# count against the app's budget; `fb_page` the page token, under per-page limits.
NEW_WORKSPACE_KINDS = {
    "ig_user": (Provider.INSTAGRAM, "ig_user_id", "meta_user_token", "IMAGE"),
    "fb_page": (Provider.FACEBOOK, "page_id", "page_token", "status"),
}


async def track_new_workspace(
    runtime: Runtime, ctl: SandboxControl, demo: dict[str, Any], kind: str, count: int
) -> tuple[Any, Any, list[Any]]:
    """A new workspace connecting a demo account (`NEW_WORKSPACE_KINDS`) and tracking `count`
    new sandbox posts of it: (workspace id, account id, tracked posts)."""
    provider, account_key, token_key, media_type = NEW_WORKSPACE_KINDS[kind]
    account = demo[account_key]
    ws, acc = await make_account(
        runtime, provider=provider, external_id=account, token=demo[token_key]
    )
    platform: Literal["facebook", "instagram"] = (
        "facebook" if provider == Provider.FACEBOOK else "instagram"
    )
    ids = await ctl.seed_posts(platform, account, count, media_type=media_type)
    posts = await track_posts(
        runtime, workspace_id=ws, account_id=acc, provider=provider, external_ids=ids
    )
    return ws, acc, posts
