"""Fixtures for the integration clients: stamina test mode and the fake Graph batch API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx
import stamina

from app.integrations.meta_insights import MetaInsightsClient
from tests.integrations.fakes import GRAPH, FakeGraph, meta_config


@pytest.fixture
async def meta_client() -> AsyncIterator[MetaInsightsClient]:
    async with MetaInsightsClient(meta_config()) as meta:
        yield meta


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    # No real backoff sleeps; at most 3 attempts (capped by each policy's own bound).
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    with respx.mock(base_url=GRAPH, assert_all_called=False) as mock:
        mock.post("/v25.0/").mock(side_effect=fake.handler)
        yield fake
