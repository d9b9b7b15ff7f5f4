"""Worker tests run against the in-process sandbox, like the other `sandbox` tests, or against
real sandbox and poller processes (`real_processes`)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.core.runtime import Runtime
from tests.workers.real_processes import sandbox_ctl, sandbox_url  # noqa: F401 - fixtures
from workers import insights_poller


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every worker test runs against the sandbox (in-process or as a real process)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture
async def poller(
    runtime: Runtime,
    sandbox_transport: httpx.ASGITransport,
) -> AsyncIterator[insights_poller.PollerContext]:
    """The DBOS poller in this process, platform HTTP to the in-process sandbox."""
    ctx = await insights_poller.start_poller(runtime, schedule=False, transport=sandbox_transport)
    yield ctx
    await insights_poller.stop_poller()
