"""Worker tests run against the in-process sandbox, like the integration tests, or against
real sandbox and poller processes (`real_processes`)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.runtime import Runtime
from tests.integration.conftest import (  # noqa: F401 - re-exported fixtures
    ctl,
    demo,
    sandbox_app,
    sandbox_transport,
    settings,
)
from tests.workers.real_processes import sandbox_ctl, sandbox_url  # noqa: F401 - fixtures
from workers import insights_poller


@pytest.fixture
async def poller(
    runtime: Runtime,
    sandbox_transport: httpx.ASGITransport,  # noqa: F811 - the fixture imported above
) -> AsyncIterator[insights_poller.PollerContext]:
    """The DBOS poller in this process, platform HTTP to the in-process sandbox."""
    ctx = await insights_poller.start_poller(runtime, schedule=False, transport=sandbox_transport)
    yield ctx
    await insights_poller.stop_poller()
