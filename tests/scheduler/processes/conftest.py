"""Publishing against real processes: the sandbox as a subprocess (as in production), and
Postmeter's settings aimed at it; the engine runs in-process or as `postmeter worker`s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.runtime import Runtime
from app.main import create_app
from app.sandbox.client import SandboxControl
from tests.app_client import app_client
from tests.conftest import make_settings
from tests.workers.real_processes import sandbox_ctl, sandbox_url  # noqa: F401 - fixtures


def engine_overrides(url: str, app_secret: str) -> dict[str, Any]:
    """Postmeter aimed at the sandbox process, ticking fast enough for a test."""
    return {
        "META_GRAPH_API_BASE": url,
        "LINKEDIN_API_BASE": url,
        "META_APP_SECRET": app_secret,
        "MEDIA_ALLOW_PRIVATE_URLS": True,  # the sandbox's /_sandbox/media files are on loopback
        "PUBLISH_TICK_SECONDS": 1,
        "PUBLISH_RECONCILE_SECONDS": 0.5,
        "INSIGHTS_POLL_TICK_SECONDS": 2,
    }


@pytest.fixture
async def settings(
    database_url: str,
    tmp_path: Path,
    sandbox_ctl: SandboxControl,  # noqa: F811 - the fixture imported above
    sandbox_url: str,  # noqa: F811
) -> Settings:
    """The test settings (the root `runtime` builds on them), aimed at the sandbox process."""
    secret = (await sandbox_ctl.world())["demo"]["meta_app_secret"]
    return make_settings(tmp_path, database_url, **engine_overrides(sandbox_url, secret))


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(runtime.settings, runtime=runtime)) as c:
        yield c
