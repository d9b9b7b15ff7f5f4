"""Administration commands: migrations, workspaces, API keys, token encryption keys."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.common import command_runtime, console, err_console, run_in_transaction
from app.core.errors import Conflict, DomainError, NotFound
from app.core.runtime import Runtime
from app.core.security import generate_encryption_key
from app.models import Workspace
from app.services import accounts as accounts_service
from app.services import workspace_lifecycle as lifecycle
from app.services import workspaces as ws_service
from app.services.migrations import migration_status, upgrade_database

db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
workspace_cli = typer.Typer(help="Workspaces (tenants).", no_args_is_help=True)
key_cli = typer.Typer(help="API keys.", no_args_is_help=True)
keys_cli = typer.Typer(help="Token encryption keys.", no_args_is_help=True)


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (same as `alembic upgrade head`)."""

    async def _go() -> None:
        async with command_runtime(migrate=False) as runtime:
            await upgrade_database(runtime.engine)
            status = await migration_status(runtime.engine)
            console.print(f"database at revision {status.current}")

    asyncio.run(_go())


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and the code's head revision."""

    async def _go() -> None:
        async with command_runtime(migrate=False) as runtime:
            status = await migration_status(runtime.engine)
            console.print(f"current: {status.current}  head: {status.head}")
            if not status.ready:
                raise typer.Exit(1)

    asyncio.run(_go())


@workspace_cli.command("create")
def workspace_create(name: Annotated[str, typer.Argument(help="Workspace name.")]) -> None:
    """Create a workspace and print its id and a new API key (shown once)."""

    async def _create(session: AsyncSession, _rt: Runtime) -> ws_service.IssuedKey:
        _workspace, key = await ws_service.create_workspace(session, name=name)
        return key

    key = run_in_transaction(_create)
    console.print(f"workspace_id: {key.workspace_id}")
    console.print(f"api_key_id:   {key.key_id}")
    console.print(f"api_key:      {key.plaintext}")
    err_console.print("Store the API key now: it is not shown again.")


@workspace_cli.command("list")
def workspace_list() -> None:
    """List workspaces."""

    async def _list(session: AsyncSession, _rt: Runtime) -> list[tuple[uuid.UUID, str, bool]]:
        rows = await ws_service.list_workspaces(session)
        return [(w.id, w.name, w.disabled_at is not None) for w in rows]

    for ws_id, name, disabled in run_in_transaction(_list):
        console.print(f"{ws_id}  {name}" + ("  (disabled)" if disabled else ""), highlight=False)


WorkspaceArg = Annotated[uuid.UUID, typer.Argument(help="Workspace id.")]


def _set_disabled(workspace: uuid.UUID, *, disabled: bool) -> bool:
    async def _go(session: AsyncSession, _rt: Runtime) -> bool:
        return await lifecycle.set_disabled(session, workspace, disabled=disabled)

    try:
        return run_in_transaction(_go)
    except DomainError as exc:
        _fail(exc.message)
        raise  # not reached: _fail exits


@workspace_cli.command("disable")
def workspace_disable(workspace: WorkspaceArg) -> None:
    """Disable a workspace: its API keys get 401, its posts are neither published nor polled
    until it is enabled again (work already under way settles)."""
    changed = _set_disabled(workspace, disabled=True)
    console.print(f"disabled {workspace}" if changed else f"{workspace} was already disabled")


@workspace_cli.command("enable")
def workspace_enable(workspace: WorkspaceArg) -> None:
    """Enable a disabled workspace: its keys work again, and scheduled posts that fell due
    meanwhile are published at the next tick."""
    changed = _set_disabled(workspace, disabled=False)
    console.print(f"enabled {workspace}" if changed else f"{workspace} was not disabled")


@workspace_cli.command("delete")
def workspace_delete(
    workspace: WorkspaceArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a workspace and everything in it (keys, accounts, schedules, attempts, tracked
    posts, metrics) in one transaction, and cancel its queued background work. Refused while
    one of its posts is being published (it is disabled meanwhile: run it again later)."""

    async def _describe(session: AsyncSession, _rt: Runtime) -> str:
        found = await session.get(Workspace, workspace)
        if found is None:
            raise NotFound(f"workspace {workspace} not found")
        return found.name

    try:
        name = run_in_transaction(_describe)
    except DomainError as exc:
        _fail(exc.message)
        return
    if not yes and not typer.confirm(
        f"Delete workspace {workspace} ({name}) and all its data? This cannot be undone"
    ):
        err_console.print("not deleted")
        raise typer.Exit(1)
    try:
        asyncio.run(_delete(workspace))
    except DomainError as exc:
        _fail(exc.message)


async def _delete(workspace: uuid.UUID) -> None:
    from workers.workspace_work import cancel_workspace_work

    async with command_runtime() as runtime:
        # Disabled first, on its own: no new attempt starts while the delete waits its turn,
        # or while the calls that refuse it settle.
        async with runtime.sessionmaker() as session, session.begin():
            await lifecycle.set_disabled(session, workspace, disabled=True)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                deleted = await lifecycle.delete_workspace(session, workspace)
        except Conflict as exc:
            raise Conflict(
                f"{exc.message}. It is disabled now, so no new post of it starts: run the "
                "delete again once they settle (`postmeter workspace enable` undoes the "
                "disable)",
                code=exc.code,
            ) from None
        cancelled = await cancel_workspace_work(
            runtime.settings, deleted.target_ids, deleted.account_ids
        )
    counts = ", ".join(f"{table} {n}" for table, n in deleted.rows.items() if n)
    console.print(
        f"deleted workspace {workspace} ({deleted.name}): {counts}", highlight=False, soft_wrap=True
    )
    console.print(f"cancelled {len(cancelled)} queued or running workflow(s)")


@key_cli.command("create")
def key_create(
    workspace: Annotated[uuid.UUID, typer.Option("--workspace", help="Workspace id.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
) -> None:
    """Create an API key for a workspace (printed once)."""

    async def _create(session: AsyncSession, _rt: Runtime) -> ws_service.IssuedKey:
        return await ws_service.create_api_key(session, workspace_id=workspace, name=name)

    try:
        key = run_in_transaction(_create)
    except DomainError as exc:
        _fail(exc.message)
        return
    console.print(f"api_key_id: {key.key_id}")
    console.print(f"api_key:    {key.plaintext}")


@key_cli.command("revoke")
def key_revoke(key_id: Annotated[uuid.UUID, typer.Argument(help="API key id.")]) -> None:
    """Revoke an API key; requests with it get 401 from now on."""

    async def _revoke(session: AsyncSession, _rt: Runtime) -> None:
        await ws_service.revoke_api_key(session, key_id=key_id)

    try:
        run_in_transaction(_revoke)
    except DomainError as exc:
        _fail(exc.message)
    console.print(f"revoked {key_id}")


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new token encryption key (put it first in TOKEN_ENCRYPTION_KEYS)."""
    console.print(generate_encryption_key())


@keys_cli.command("rotate-tokens")
def keys_rotate_tokens() -> None:
    """Re-encrypt every stored token under the newest TOKEN_ENCRYPTION_KEYS key."""

    async def _rotate(session: AsyncSession, runtime: Runtime) -> int:
        return await accounts_service.reencrypt_all_tokens(session, cipher=runtime.cipher)

    changed = run_in_transaction(_rotate)
    console.print(f"re-encrypted {changed} token(s) under the newest key")
