"""`postmeter sandbox`: run the platform emulator, or point Postmeter at a running one.

`--print-env` and `--connect` talk to the sandbox at `--host`/`--port` (the same address it
was started on), so the settings and accounts they give are those of the world it serves.
"""

from __future__ import annotations

import asyncio
import shlex
import uuid
from typing import Annotated

import httpx
import typer

from app.cli.common import command_runtime, console, err_console
from app.cli.sandbox_link import NoDemoWorld, connect_sandbox, settings_mismatch
from app.core.errors import NotFound
from app.sandbox.client import SandboxControl
from app.sandbox.world import client_env

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9100


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _no_sandbox(url: str) -> str:
    return f"no sandbox answers at {url}: start one with `postmeter sandbox --seed demo`"


async def _env_of(url: str) -> dict[str, str]:
    async with SandboxControl(url) as ctl:
        return client_env(await ctl.world())


def print_env(url: str) -> None:
    """`export NAME=value` lines: for a shell (`eval "$(...)"`) and a `.env` file alike."""
    try:
        env = asyncio.run(_env_of(url))
    except httpx.TransportError:
        _fail(_no_sandbox(url))
        return
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")  # noqa: T201 - plain stdout for eval


async def _connect(url: str, workspace_id: uuid.UUID) -> tuple[int, list[str]]:
    async with SandboxControl(url) as ctl, command_runtime() as runtime:
        async with runtime.sessionmaker() as session, session.begin():
            posts = await connect_sandbox(
                session, cipher=runtime.cipher, workspace_id=workspace_id, ctl=ctl
            )
        env = client_env(await ctl.world())
        return len(posts), settings_mismatch(runtime.settings, env)


def connect(host: str, port: int, workspace_id: uuid.UUID) -> None:
    """Connect the demo accounts to a workspace and track their posts; say which settings
    `postmeter serve`/`worker` still need."""
    url = f"http://{host}:{port}"
    try:
        posts, mismatched = asyncio.run(_connect(url, workspace_id))
    except httpx.TransportError:
        _fail(_no_sandbox(url))
        return
    except (NotFound, NoDemoWorld) as exc:
        _fail(str(exc))
        return
    console.print(
        "connected the sandbox's Facebook page, Instagram account, LinkedIn organization and "
        f"LinkedIn member; tracking {posts} posts",
        highlight=False,
        soft_wrap=True,
    )
    if mismatched:
        where = (f" --host {host}" if host != DEFAULT_HOST else "") + (
            f" --port {port}" if port != DEFAULT_PORT else ""
        )
        err_console.print(
            f"Postmeter's settings do not point at this sandbox ({', '.join(mismatched)}): "
            "set them for `postmeter serve` and `postmeter worker`, e.g. "
            f'eval "$(postmeter sandbox{where} --print-env)"',
            highlight=False,
            soft_wrap=True,
        )


def register(cli: typer.Typer) -> None:
    @cli.command("sandbox")
    def sandbox(
        host: Annotated[str, typer.Option(help="Interface to bind (or to reach).")] = DEFAULT_HOST,
        port: Annotated[int, typer.Option(help="Port to listen on (or to reach).")] = DEFAULT_PORT,
        seed: Annotated[str | None, typer.Option(help="Start with a world: `demo`.")] = None,
        state_file: Annotated[
            str | None, typer.Option(help="Load and persist sandbox state in this JSON file.")
        ] = None,
        clock_speed: Annotated[
            float, typer.Option(help="Sandbox seconds per real second.", min=0.0)
        ] = 1.0,
        quiet: Annotated[bool, typer.Option(help="Do not print the world on start.")] = False,
        print_env_: Annotated[
            bool,
            typer.Option(
                "--print-env",
                help="Print the settings that point Postmeter at the running sandbox, and exit.",
            ),
        ] = False,
        connect_to: Annotated[
            uuid.UUID | None,
            typer.Option(
                "--connect",
                metavar="WORKSPACE_ID",
                help="Connect the running sandbox's demo accounts to this workspace and track "
                "their posts, and exit.",
            ),
        ] = None,
    ) -> None:
        """Run the local Meta Graph / LinkedIn API emulator (for development and tests)."""
        from app.sandbox.ports import PortUnavailable
        from app.sandbox.server import serve as serve_sandbox

        if print_env_:
            print_env(f"http://{host}:{port}")
            return
        if connect_to is not None:
            connect(host, port, connect_to)
            return
        if seed not in (None, "demo"):
            _fail("--seed takes `demo`", code=2)
        try:
            serve_sandbox(
                host, port, seed=seed, state_file=state_file, clock_speed=clock_speed, quiet=quiet
            )
        except PortUnavailable as exc:
            _fail(str(exc))
