"""One commit per request: no session of a request commits twice, failures commit nothing,
and the app's services come from its lifespan (built once, closed with it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.runtime import Runtime
from app.main import create_app, open_app_services
from app.routes.deps import AppServices, ServicesDep
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import InsightsRefresher
from tests.app_client import app_client
from tests.conftest import make_tenant
from tests.routes.helpers import make_account


class CommitLog:
    def __init__(self) -> None:
        self.by_session: Counter[int] = Counter()

    def take(self) -> list[int]:
        """Commits per session since the last call."""
        counts = list(self.by_session.values())
        self.by_session.clear()
        return counts


@pytest.fixture
def commits() -> Iterator[CommitLog]:
    log = CommitLog()

    def count(session: Session) -> None:
        if not session.in_nested_transaction():  # a SAVEPOINT released is no commit
            log.by_session[id(session)] += 1

    event.listen(Session, "after_commit", count)
    yield log
    event.remove(Session, "after_commit", count)


@pytest.mark.sandbox
async def test_every_route_path_commits_once(
    api: httpx.AsyncClient,
    runtime: Runtime,
    ctl: SandboxControl,
    demo: dict[str, Any],
    commits: CommitLog,
) -> None:
    tenant = await make_tenant(runtime)
    # The key's first use writes its last_used_at, in a write of its own (app.routes.auth):
    # done here, so that what is counted below is the routes' units of work.
    assert (await api.get("/api/v1/accounts", headers=tenant.headers)).status_code == 200
    commits.take()
    fb = await make_account(
        api, tenant, "facebook", external_id=demo["page_id"], access_token=demo["page_token"]
    )
    assert commits.take() == [1]
    [post] = await ctl.seed_posts("facebook", demo["page_id"], 1, age_hours=5)
    body = {"refs": [{"account_id": fb["id"], "external_id": post}]}
    r = await api.post("/api/v1/schedules/import", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert commits.take() == [1]

    # Fetch now ends the request's unit of work before the refresh's own write transaction:
    # two sessions, one commit each (before, the request's session committed twice).
    r = await api.post(f"/api/v1/insights/fetch/{sid}", headers=tenant.headers)
    assert [x["status"] for x in r.json()["results"]] == ["fetched"]
    assert sorted(commits.take()) == [1, 1]
    r = await api.post(f"/api/v1/insights/fetch/{sid}", headers=tenant.headers)
    assert [x["status"] for x in r.json()["results"]] == ["fresh"]
    assert commits.take() == [1]

    for path in (f"/api/v1/insights/metrics/{sid}", "/api/v1/insights/summary"):
        assert (await api.get(path, headers=tenant.headers)).status_code == 200
        assert commits.take() == [1]

    # Expected errors roll back: nothing committed.
    r = await api.post("/api/v1/accounts", json={"provider": "facebook"}, headers=tenant.headers)
    assert r.status_code == 422
    missing = "/api/v1/insights/fetch/01a20b69-38bc-7e0b-ad4d-80f306a8d4b0"
    assert (await api.post(missing, headers=tenant.headers)).status_code == 404
    assert commits.take() == []


async def test_the_lifespan_closes_what_it_opened_and_only_that(
    runtime: Runtime, refresher: InsightsRefresher
) -> None:
    async with open_app_services(runtime=runtime) as services:
        assert services.runtime is runtime  # handed in: used, and left to its owner
        built = services.refresher.clients.http_clients
        assert built
        assert not any(c.is_closed for c in built)
    assert all(c.is_closed for c in built)

    async with open_app_services(runtime=runtime, refresher=refresher) as services:
        assert services.refresher is refresher
    assert not any(c.is_closed for c in refresher.clients.http_clients)


async def test_every_request_gets_the_services_the_lifespan_built(runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime=runtime)
    seen: list[AppServices] = []

    @app.get("/_probe")
    async def probe(services: ServicesDep) -> dict[str, str]:
        seen.append(services)
        return {}

    async with app_client(app) as client:
        for _ in range(3):
            assert (await client.get("/_probe")).status_code == 200
    assert len({id(s) for s in seen}) == 1
    assert seen[0].runtime is runtime
    assert all(c.is_closed for c in seen[0].refresher.clients.http_clients)


async def test_a_request_without_the_lifespan_fails_loudly(runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="lifespan"):
            await client.get("/readyz")
