"""`postmeter workspace disable|enable|delete` (issue 10, finding 8)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import update
from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.runtime import Runtime
from app.models import AttemptPhase, PublishAttempt, Workspace
from tests.cli.test_cli import _env
from tests.conftest import Tenant
from tests.scheduler.helpers import claim
from tests.services.test_workspace_lifecycle import due_on


async def _invoke(runtime: Runtime, args: list[str], stdin: str | None = None) -> Result:
    # The CLI runs its own event loop: from a thread.
    return await asyncio.to_thread(
        CliRunner().invoke, cli, args, env=_env(runtime.settings), input=stdin
    )


async def _status(client: httpx.AsyncClient, tenant: Tenant) -> int:
    return (await client.get("/api/v1/schedules", headers=tenant.headers)).status_code


async def test_disable_and_enable_switch_the_workspace_keys_off_and_on(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    r = await _invoke(runtime, ["workspace", "disable", tenant.workspace_id])
    assert r.exit_code == 0, r.output
    assert f"disabled {tenant.workspace_id}" in r.output
    assert await _status(client, tenant) == 401
    listed = await _invoke(runtime, ["workspace", "list"])
    assert f"{tenant.workspace_id}  acme  (disabled)" in listed.output
    refused = await _invoke(runtime, ["key", "create", "--workspace", tenant.workspace_id])
    assert refused.exit_code == 1
    assert "is disabled" in refused.output
    r = await _invoke(runtime, ["workspace", "enable", tenant.workspace_id])
    assert r.exit_code == 0, r.output
    assert await _status(client, tenant) == 200
    unknown = await _invoke(runtime, ["workspace", "disable", str(uuid.uuid4())])
    assert unknown.exit_code == 1
    assert "not found" in unknown.output


async def test_delete_asks_first_and_then_removes_the_workspace(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    declined = await _invoke(runtime, ["workspace", "delete", tenant.workspace_id], stdin="n\n")
    assert declined.exit_code == 1
    assert "and all its data?" in declined.output
    assert await _status(client, tenant) == 200  # untouched
    done = await _invoke(runtime, ["workspace", "delete", tenant.workspace_id], stdin="y\n")
    assert done.exit_code == 0, done.output
    assert f"deleted workspace {tenant.workspace_id} (acme): api_keys 1, workspaces 1" in (
        done.output
    )
    assert await _status(client, tenant) == 401
    assert await _status(client, other_tenant) == 200
    again = await _invoke(runtime, ["workspace", "delete", "--yes", tenant.workspace_id])
    assert again.exit_code == 1
    assert "not found" in again.output


async def test_delete_is_refused_while_a_post_is_being_published_and_disables(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    from tests.factories import make_account

    ws = uuid.UUID(tenant.workspace_id)
    await due_on(runtime, await make_account(runtime, workspace_id=ws))
    await claim(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(PublishAttempt)
            .where(PublishAttempt.workspace_id == ws)
            .values(phase=AttemptPhase.CALLING)
        )
    r = await _invoke(runtime, ["workspace", "delete", "--yes", tenant.workspace_id])
    assert r.exit_code == 1
    assert "being published right now" in " ".join(r.output.split())
    async with runtime.sessionmaker() as session:
        workspace = await session.get(Workspace, ws)
    assert workspace is not None
    assert workspace.disabled_at is not None  # no new post of it starts meanwhile
    assert await _status(client, tenant) == 401
