"""Workspace lifecycle (issue 10, finding 8): disable, enable, delete; a key authenticates only
while its workspace exists and is active; the engine and the poller leave a disabled
workspace's work alone; an integrity failure that is not the duplicate is not
`account_exists`."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.core.errors import Conflict, NotFound
from app.core.runtime import Runtime
from app.models import (
    ApiKey,
    AttemptPhase,
    Base,
    MetricsSource,
    PostMetrics,
    Provider,
    PublishAttempt,
    Schedule,
    ScheduleMetrics,
    ScheduleStatus,
    ScheduleTarget,
    Workspace,
)
from app.models.base import utcnow
from app.schemas.accounts import AccountCreate
from app.services import workspace_lifecycle as lifecycle
from app.services.accounts import create_account
from app.services.poll_planner import claim_due_batches, count_due
from app.services.workspaces import create_api_key
from tests.conftest import Tenant
from tests.factories import make_account, track_posts
from tests.scheduler.helpers import claim, make_due


async def _set_disabled(runtime: Runtime, workspace_id: uuid.UUID | str, disabled: bool) -> bool:
    async with runtime.sessionmaker() as session, session.begin():
        return await lifecycle.set_disabled(
            session, uuid.UUID(str(workspace_id)), disabled=disabled
        )


async def due_on(
    runtime: Runtime, account: tuple[uuid.UUID, uuid.UUID], *, minutes_ago: float = 1
) -> uuid.UUID:
    """A scheduled post on `account` (workspace id, account id), due `minutes_ago`."""
    workspace_id, account_id = account
    async with runtime.sessionmaker() as session, session.begin():
        schedule = Schedule(
            workspace_id=workspace_id,
            text=f"post {uuid.uuid4()}",
            status=ScheduleStatus.SCHEDULED,
            publish_at=utcnow() - timedelta(minutes=minutes_ago),
            targets=[ScheduleTarget(account_id=account_id, provider=Provider.FACEBOOK)],
        )
        session.add(schedule)
        await session.flush()
        return schedule.id


# --- authentication --------------------------------------------------------------------------


async def test_a_disabled_workspace_key_gets_401_until_it_is_enabled(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert (await client.get("/api/v1/schedules", headers=tenant.headers)).status_code == 200
    assert await _set_disabled(runtime, tenant.workspace_id, True)
    assert not await _set_disabled(runtime, tenant.workspace_id, True)  # already
    r = await client.get("/api/v1/schedules", headers=tenant.headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    # The other workspace is not affected.
    assert (await client.get("/api/v1/schedules", headers=other_tenant.headers)).status_code == 200
    assert await _set_disabled(runtime, tenant.workspace_id, False)
    assert (await client.get("/api/v1/schedules", headers=tenant.headers)).status_code == 200


async def test_a_key_whose_workspace_row_is_gone_does_not_authenticate(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """As the report did it: the workspace row deleted with foreign keys off (the `sqlite3`
    shell's default), the key row left behind. It answered 200, and POST /accounts then 409
    `account_exists` for the foreign-key failure."""
    ws = uuid.UUID(tenant.workspace_id)
    if runtime.settings.is_sqlite:
        database = runtime.settings.database_url.database
        assert database is not None
        with closing(sqlite3.connect(database)) as raw:  # foreign keys off, as in the shell
            raw.execute("DELETE FROM workspaces WHERE id = ?", (ws.hex,))
            raw.commit()
    else:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text("DELETE FROM workspaces WHERE id = :id"), {"id": ws})
    async with runtime.sessionmaker() as session:
        assert await session.get(Workspace, ws) is None
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 1
    r = await client.get("/api/v1/schedules", headers=tenant.headers)
    assert r.status_code == 401
    r = await client.post(
        "/api/v1/accounts",
        headers=tenant.headers,
        json={
            "provider": "facebook",
            "external_id": "1234567890",
            "name": "p",
            "access_token": "t0ken-value",
        },
    )
    assert r.status_code == 401


async def test_an_integrity_failure_that_is_not_the_duplicate_is_not_account_exists(
    runtime: Runtime,
) -> None:
    data = AccountCreate.model_validate(
        {"provider": "facebook", "external_id": "1234567890", "name": "p", "access_token": "tok"}
    )
    with pytest.raises(IntegrityError):
        async with runtime.sessionmaker() as session, session.begin():
            await create_account(
                session, workspace_id=uuid.uuid4(), data=data, cipher=runtime.cipher
            )
    # The real duplicate still is.
    workspace_id, _ = await make_account(runtime, external_id="1234567890")
    with pytest.raises(Conflict) as exc:
        async with runtime.sessionmaker() as session, session.begin():
            await create_account(
                session, workspace_id=workspace_id, data=data, cipher=runtime.cipher
            )
    assert exc.value.code == "account_exists"


async def test_no_key_is_created_for_a_disabled_workspace(runtime: Runtime, tenant: Tenant) -> None:
    await _set_disabled(runtime, tenant.workspace_id, True)
    with pytest.raises(Conflict) as exc:
        async with runtime.sessionmaker() as session, session.begin():
            await create_api_key(session, workspace_id=uuid.UUID(tenant.workspace_id))
    assert exc.value.code == "workspace_disabled"
    with pytest.raises(NotFound):
        async with runtime.sessionmaker() as session, session.begin():
            await lifecycle.set_disabled(session, uuid.uuid4(), disabled=True)


# --- the engine and the poller ---------------------------------------------------------------


async def test_the_engine_starts_nothing_of_a_disabled_workspace(runtime: Runtime) -> None:
    mine = await make_due(runtime, text="mine")
    theirs = await make_due(runtime, text="theirs")
    await _set_disabled(runtime, mine.workspace_id, True)
    started = await claim(runtime)
    assert [a.target_id for a in started] == [str(theirs.target_id)]
    async with runtime.sessionmaker() as session:
        assert (
            await session.scalar(select(Schedule.status).where(Schedule.id == mine.schedule_id))
            == ScheduleStatus.SCHEDULED
        )
    # Enabled again: published at the next tick (late).
    await _set_disabled(runtime, mine.workspace_id, False)
    assert [a.target_id for a in await claim(runtime)] == [str(mine.target_id)]


async def test_a_pending_target_of_a_disabled_workspace_is_not_started(runtime: Runtime) -> None:
    """Claimed (`publishing`) before the disable, its target not yet started: it waits."""
    due = await make_due(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Schedule)
            .where(Schedule.id == due.schedule_id)
            .values(status=ScheduleStatus.PUBLISHING)
        )
    await _set_disabled(runtime, due.workspace_id, True)
    assert await claim(runtime) == []
    await _set_disabled(runtime, due.workspace_id, False)
    assert [a.target_id for a in await claim(runtime)] == [str(due.target_id)]


async def test_the_poller_does_not_claim_a_disabled_workspace_posts(runtime: Runtime) -> None:
    ws_a, acc_a = await make_account(runtime, external_id="111")
    ws_b, acc_b = await make_account(runtime, external_id="222")
    await track_posts(runtime, workspace_id=ws_a, account_id=acc_a,
                      provider=Provider.FACEBOOK, external_ids=["111_1", "111_2"])  # fmt: skip
    await track_posts(runtime, workspace_id=ws_b, account_id=acc_b,
                      provider=Provider.FACEBOOK, external_ids=["222_1"])  # fmt: skip
    await _set_disabled(runtime, ws_a, True)
    now = utcnow() + timedelta(seconds=1)
    async with runtime.sessionmaker() as session, session.begin():
        assert await count_due(session, now) == 1
        batches = await claim_due_batches(session, now=now, batch_size=50)
    assert [b.account_id for b in batches] == [str(acc_b)]
    await _set_disabled(runtime, ws_a, False)
    async with runtime.sessionmaker() as session, session.begin():
        assert await count_due(session, now) == 2  # due again once enabled


# --- delete ----------------------------------------------------------------------------------


async def _world(runtime: Runtime, tenant: Tenant) -> None:
    """Accounts, a published schedule with an attempt, tracked posts with a snapshot and a
    rollup, a due schedule: a bit of every table a workspace owns."""
    ws = uuid.UUID(tenant.workspace_id)
    await due_on(runtime, await make_account(runtime, workspace_id=ws))
    await claim(runtime)  # an attempt (preparing) for it
    _, account = await make_account(runtime, workspace_id=ws, external_id="9876543210")
    posts = await track_posts(runtime, workspace_id=ws, account_id=account,
                              provider=Provider.FACEBOOK, external_ids=["9_1", "9_2"])  # fmt: skip
    now = utcnow()
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            PostMetrics(
                schedule_id=posts[0].schedule_id,
                provider=Provider.FACEBOOK,
                fetched_at=now,
                captured_at=now,
                source=MetricsSource.META,
            )
        )
        session.add(ScheduleMetrics(schedule_id=posts[0].schedule_id, computed_at=now))
    await due_on(runtime, (ws, account), minutes_ago=-60)


async def _owned_rows(runtime: Runtime, workspace_id: uuid.UUID) -> dict[str, int]:
    """Rows of every table that belong to the workspace: by its own workspace_id column, or
    through its schedules (tables found in the metadata, so a new table is checked too)."""
    counts: dict[str, int] = {}
    schedules = select(Schedule.id).where(Schedule.workspace_id == workspace_id)
    async with runtime.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            assert isinstance(table, Table)
            if "workspace_id" in table.c:
                where = table.c.workspace_id == workspace_id
            elif table.name == "workspaces":
                where = table.c.id == workspace_id
            elif "schedule_id" in table.c:
                where = table.c.schedule_id.in_(schedules)
            else:
                continue
            counts[table.name] = int(
                await session.scalar(select(func.count()).select_from(table).where(where)) or 0
            )
    return counts


async def test_delete_removes_every_row_of_the_workspace_and_nothing_else(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _world(runtime, tenant)
    await _world(runtime, other_tenant)
    mine, theirs = uuid.UUID(tenant.workspace_id), uuid.UUID(other_tenant.workspace_id)
    before = await _owned_rows(runtime, mine)
    others_before = await _owned_rows(runtime, theirs)
    assert all(before[t] for t in ("publish_attempts", "post_metrics", "schedule_metrics"))
    async with runtime.sessionmaker() as session, session.begin():
        deleted = await lifecycle.delete_workspace(session, mine)
    assert await _owned_rows(runtime, mine) == dict.fromkeys(before, 0)
    assert await _owned_rows(runtime, theirs) == others_before
    assert {t: n for t, n in deleted.rows.items() if n} == {t: n for t, n in before.items() if n}
    assert len(deleted.target_ids) == 2
    assert len(deleted.account_ids) == 2


async def test_delete_is_refused_while_a_post_is_being_published(
    runtime: Runtime, tenant: Tenant
) -> None:
    await _world(runtime, tenant)
    ws = uuid.UUID(tenant.workspace_id)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(PublishAttempt)
            .where(PublishAttempt.workspace_id == ws)
            .values(phase=AttemptPhase.CALLING, call_started_at=utcnow())
        )
    before = await _owned_rows(runtime, ws)
    with pytest.raises(Conflict) as exc:
        async with runtime.sessionmaker() as session, session.begin():
            await lifecycle.delete_workspace(session, ws)
    assert exc.value.code == "workspace_busy"
    assert "being published right now" in exc.value.message
    assert await _owned_rows(runtime, ws) == before
    async with runtime.sessionmaker() as session:
        assert await lifecycle.calls_in_flight(session, ws) == 1
        assert await session.get(Workspace, ws) is not None


async def test_delete_of_an_unknown_workspace_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        async with runtime.sessionmaker() as session, session.begin():
            await lifecycle.delete_workspace(session, uuid.uuid4())


async def test_a_workflow_of_a_deleted_workspace_makes_no_call(runtime: Runtime) -> None:
    """Deleted between the claim and the call: the call step's READY -> CALLING finds no
    row, so the create call is never made."""
    from tests.scheduler.fakes import FakePlatform
    from tests.scheduler.helpers import make_steps

    due = await make_due(runtime)
    [started] = await claim(runtime)
    platform = FakePlatform()
    steps = make_steps(runtime, platform)
    assert (await steps.prepare(started.key)).next == "call"
    async with runtime.sessionmaker() as session, session.begin():
        await lifecycle.delete_workspace(session, due.workspace_id)
    assert (await steps.call(started.key)).next == "done"
    assert platform.create_calls == 0
