"""Content checked per target when a schedule is created or edited: a 422 naming the rule."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.runtime import Runtime
from tests.conftest import Tenant
from tests.routes.helpers import future, make_account

JPG = "https://cdn.example.com/a.jpg"


async def _create(
    client: httpx.AsyncClient, tenant: Tenant, content: dict[str, Any], ids: list[str]
) -> httpx.Response:
    body = {"content": content, "publish_at": future(), "account_ids": ids}
    return await client.post("/api/v1/schedules", json=body, headers=tenant.headers)


async def test_rules_refused_with_their_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    fb = (await make_account(client, tenant, "facebook"))["id"]
    ig = (await make_account(client, tenant, "instagram"))["id"]
    li = (await make_account(client, tenant, "linkedin"))["id"]
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"text": "x", "media_urls": [JPG.replace("jpg", "png")]}, [ig], "media_type_unsupported"),
        ({"text": "x", "media_urls": [JPG] * 11}, [ig], "too_many_media"),
        ({"text": "x", "media_urls": [JPG] * 21}, [li], "invalid_input"),  # schema: 20 at most
        ({"text": "x", "media_urls": ["https://c.example/v.mp4", JPG]}, [li], "video_with_images"),
        ({"text": "x", "media_urls": ["https://c.example/v.mp4"] * 2}, [fb], "too_many_videos"),
        ({"text": "x", "link": "http://127.0.0.1:8000/admin"}, [fb], "link_refused"),
        ({"text": "x", "link": "http://localhost/admin"}, [fb], "link_refused"),
        ({"text": "x", "media_urls": ["http://169.254.169.254/a.jpg"]}, [ig], "media_url_refused"),
        ({"text": "x", "media_urls": ["http://[::1]/a.jpg"]}, [li], "media_url_refused"),
        ({"text": "x", "media_urls": ["http://10.0.0.2/a.jpg"]}, [fb], "media_url_refused"),
        ({"text": "x" * 2195, "link": "https://example.com/x", "media_urls": [JPG]}, [ig],
         "text_too_long"),
    ]  # fmt: skip
    for content, ids, code in cases:
        r = await _create(client, tenant, content, ids)
        assert r.status_code == 422, (content, r.text)
        assert r.json()["error"]["code"] == code, (content, r.text)
    assert (await client.get("/api/v1/schedules", headers=tenant.headers)).json()["items"] == []


async def test_twenty_linkedin_images_and_an_instagram_carousel_pass(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    li = (await make_account(client, tenant, "linkedin"))["id"]
    ig = (await make_account(client, tenant, "instagram"))["id"]
    r = await _create(client, tenant, {"text": "x", "media_urls": [JPG] * 20}, [li])
    assert r.status_code == 201, r.text
    r = await _create(client, tenant, {"text": "x", "media_urls": [JPG] * 10}, [ig, li])
    assert r.status_code == 201, r.text


async def test_an_edit_is_checked_against_the_targets(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ig = (await make_account(client, tenant, "instagram"))["id"]
    r = await _create(client, tenant, {"text": "x", "media_urls": [JPG]}, [ig])
    assert r.status_code == 201, r.text
    r = await client.patch(
        f"/api/v1/schedules/{r.json()['id']}",
        json={"content": {"text": "no media now"}},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "media_required"


async def test_private_urls_allowed_when_the_setting_says_so(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    li = (await make_account(client, tenant, "linkedin"))["id"]
    content = {"text": "x", "media_urls": ["http://127.0.0.1:8000/a.jpg"]}
    assert (await _create(client, tenant, content, [li])).status_code == 422
    monkeypatch.setattr(runtime.settings, "MEDIA_ALLOW_PRIVATE_URLS", True)
    r = await _create(client, tenant, content, [li])
    assert r.status_code == 201, r.text
