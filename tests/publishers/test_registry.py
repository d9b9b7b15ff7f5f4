"""The process's publishers: one per provider, built from Settings, found by provider."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.core.vocabulary import Provider
from app.services.platform_clients import build_publishing_clients
from tests.conftest import make_settings


async def test_every_provider_has_a_publisher_with_publishing_timeouts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite:///x.db", PUBLISH_HTTP_TIMEOUT_SECONDS=90)
    clients = build_publishing_clients(settings)
    try:
        for provider in Provider:
            assert clients.publisher_for(provider).provider is provider
        meta, linkedin, media = clients.http_clients
        assert meta.timeout == httpx.Timeout(90, connect=10)
        assert str(linkedin.base_url).startswith(settings.LINKEDIN_API_BASE)
        assert not media.follow_redirects  # redirects are followed by hand, each re-checked
    finally:
        await clients.aclose()
