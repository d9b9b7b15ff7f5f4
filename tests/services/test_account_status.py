"""An account's status is computed when read: `expiring` (and an expired token's
`reconnect_required`) arrive as time passes, without any write; the stored status keeps only
what an event set (disabled, reconnect_required)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select, update

from app.core.runtime import Runtime
from app.models import AccountStatus, SocialAccount
from app.sandbox.client import SandboxControl
from app.services.accounts import EXPIRING_WITHIN, account_status, status_is
from app.services.insights_refresh import InsightsRefresher
from tests.conftest import Tenant
from tests.factories import make_account
from tests.routes.helpers import make_account as connect_account
from tests.sandbox_harness import build_world

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EXPIRY_OFFSETS: list[timedelta | None] = [
    None,
    -timedelta(days=1),
    timedelta(0),
    timedelta(seconds=1),
    EXPIRING_WITHIN,
    EXPIRING_WITHIN + timedelta(seconds=1),
    timedelta(days=60),
]


async def test_python_and_sql_agree_on_every_status(runtime: Runtime) -> None:
    """`status_is` (the list filter, the summary) selects exactly what `account_status` says."""
    expected: dict[uuid.UUID, AccountStatus] = {}
    ws = None
    for i, (stored, offset) in enumerate(itertools.product(AccountStatus, EXPIRY_OFFSETS)):
        ws, acc = await make_account(runtime, workspace_id=ws, external_id=str(1000 + i))
        expires = NOW + offset if offset is not None else None
        async with runtime.sessionmaker() as s, s.begin():
            await s.execute(
                update(SocialAccount)
                .where(SocialAccount.id == acc)
                .values(status=stored, token_expires_at=expires)
            )
        expected[acc] = account_status(stored, expires, now=NOW)
    assert set(expected.values()) == set(AccountStatus)
    async with runtime.sessionmaker() as s:
        for status in AccountStatus:
            chosen = set(
                await s.scalars(select(SocialAccount.id).where(status_is(status, now=NOW)))
            )
            assert chosen == {a for a, st in expected.items() if st == status}, status


@pytest.mark.parametrize(
    ("stored", "offset", "status"),
    [
        (AccountStatus.ACTIVE, None, AccountStatus.ACTIVE),
        (AccountStatus.ACTIVE, timedelta(days=30), AccountStatus.ACTIVE),
        (AccountStatus.ACTIVE, timedelta(days=7), AccountStatus.EXPIRING),
        (AccountStatus.ACTIVE, timedelta(0), AccountStatus.RECONNECT_REQUIRED),
        # Rows written before the status was computed may hold `expiring`: the clock decides.
        (AccountStatus.EXPIRING, timedelta(days=30), AccountStatus.ACTIVE),
        (AccountStatus.DISABLED, timedelta(days=1), AccountStatus.DISABLED),
        (AccountStatus.RECONNECT_REQUIRED, timedelta(days=30), AccountStatus.RECONNECT_REQUIRED),
    ],
)
def test_account_status(stored: AccountStatus, offset: timedelta | None, status: str) -> None:
    expires = NOW + offset if offset is not None else None
    assert account_status(stored, expires, now=NOW) == status


async def test_expiring_arrives_with_time_alone(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        expires = (NOW + timedelta(days=10)).isoformat()
        acc = await connect_account(client, tenant, token_expires_at=expires)
        assert acc["status"] == "active"
        path = f"/api/v1/accounts/{acc['id']}"

        async def seen() -> tuple[str, list[str], list[str], list[dict[str, Any]]]:
            one = (await client.get(path, headers=tenant.headers)).json()["status"]
            listed = {
                st: [
                    a["id"]
                    for a in (
                        await client.get(
                            "/api/v1/accounts", params={"status": st}, headers=tenant.headers
                        )
                    ).json()["items"]
                ]
                for st in ("active", "expiring")
            }
            summary = (await client.get("/api/v1/insights/summary", headers=tenant.headers)).json()
            return (
                one,
                listed["active"],
                listed["expiring"],
                summary["accounts_needing_reconnection"],
            )

        assert await seen() == ("active", [acc["id"]], [], [])
        async with runtime.sessionmaker() as s:
            row = await s.get(SocialAccount, uuid.UUID(acc["id"]))
            assert row is not None
            written = row.updated_at

        clock.move_to(NOW + timedelta(days=4))
        one, active, expiring, attention = await seen()
        assert (one, active, expiring) == ("expiring", [], [acc["id"]])
        assert [(a["id"], a["status"]) for a in attention] == [(acc["id"], "expiring")]

        clock.move_to(NOW + timedelta(days=11))
        one, active, expiring, attention = await seen()
        assert (one, active, expiring) == ("reconnect_required", [], [])
        assert [a["status"] for a in attention] == ["reconnect_required"]
        async with runtime.sessionmaker() as s:
            row = await s.get(SocialAccount, uuid.UUID(acc["id"]))
            assert row is not None
            assert row.updated_at == written  # nothing was written to get there
            assert row.status == AccountStatus.ACTIVE


@pytest.mark.sandbox
async def test_the_refresher_skips_an_account_whose_token_expired_by_the_clock(
    runtime: Runtime, refresher: InsightsRefresher, ctl: SandboxControl, demo: dict[str, Any]
) -> None:
    world = await build_world(runtime, ctl, demo, {"fb": 2})
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(
            update(SocialAccount)
            .where(SocialAccount.id == world.accounts["fb"])
            .values(token_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    calls = dict(refresher.clients.http_calls)
    report = await refresher.refresh(world.rows["fb"])
    assert {o.error_kind for o in report.outcomes} == {"reconnect_required"}
    assert refresher.clients.http_calls == calls  # no platform call on a token known expired
