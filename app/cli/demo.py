"""`postmeter demo`: the sandbox platforms plus Postmeter on the embedded default, wired up.

Starts `postmeter sandbox --seed demo` in a child process (its clock runs fast), connects the
demo accounts, tracks every demo post, schedules one new post a minute ahead to the demo Page,
Instagram account and LinkedIn organization, and serves the API with the poller and the
publishing engine beside it (its worker process), so metrics appear and grow within a minute
and the new post is published at its time, then measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.common import command_runtime, console, err_console, load_settings_and_logging
from app.cli.run import serve_api
from app.cli.sandbox_link import TrackedPost, connect_sandbox, growing_post
from app.core.config import Settings
from app.core.files import ensure_private_dir
from app.core.runtime import Runtime
from app.models import SocialAccount, Workspace
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.sandbox.ports import PortUnavailable, bind_socket
from app.schemas.schedules import ScheduleContent, ScheduleCreate
from app.services.schedules import create_schedule
from app.services.workspaces import create_api_key

DEMO_WORKSPACE = "Postmeter demo"
# The demo's own post is due this long after start: time to read the banner, then watch it.
DEMO_POST_LEAD = timedelta(minutes=1)


def demo_settings(base: Settings, sandbox_url: str, app_secret: str) -> Settings:
    """The user's settings, pointed at the sandbox, with a fast cadence for the demo."""
    update: dict[str, Any] = {
        "META_GRAPH_API_BASE": sandbox_url,
        "LINKEDIN_API_BASE": sandbox_url,
        "META_APP_SECRET": SecretStr(app_secret),
        "INSIGHTS_POLL_INTERVAL_HOURS": 1 / 60,  # every minute (an hour of sandbox time)
        "INSIGHTS_POLL_TICK_SECONDS": 10,
        "INSIGHTS_SNAPSHOT_BUCKET_HOURS": 1 / 60,  # one history point per minute
        "INSIGHTS_FRESH_SECONDS": 30,
        # The demo post's image is a sandbox media file, on loopback (this process only).
        "MEDIA_ALLOW_PRIVATE_URLS": True,
    }
    if not base.DATABASE_URL:
        # Apart from `postmeter serve`'s database: the demo's accounts hold sandbox tokens, and
        # a poller aimed at the real platforms would mark them all `reconnect_required`.
        update["DATA_DIR"] = demo_data_dir(base)
    return base.model_copy(update=update)


def demo_data_dir(base: Settings) -> Path:
    return base.DATA_DIR / "demo"


@dataclass(frozen=True)
class DemoPost:
    schedule_id: uuid.UUID
    publish_at: datetime


async def connect_demo(
    runtime: Runtime, ctl: SandboxControl
) -> tuple[str, list[TrackedPost], DemoPost]:
    """The demo workspace with a fresh API key, the sandbox's accounts connected (tokens
    refreshed), every demo post tracked, and a new post scheduled a minute ahead."""
    async with runtime.sessionmaker() as session, session.begin():
        workspace = await session.scalar(select(Workspace).where(Workspace.name == DEMO_WORKSPACE))
        if workspace is None:
            workspace = Workspace(name=DEMO_WORKSPACE)
            session.add(workspace)
            await session.flush()
        key = await create_api_key(session, workspace_id=workspace.id, name="demo")
        posts = await connect_sandbox(
            session, cipher=runtime.cipher, workspace_id=workspace.id, ctl=ctl
        )
        post = await schedule_demo_post(session, workspace.id, ctl)
    return key.plaintext, posts, post


async def schedule_demo_post(
    session: AsyncSession, workspace_id: uuid.UUID, ctl: SandboxControl
) -> DemoPost:
    """One post with an image to the demo Page, its Instagram account and the LinkedIn
    organization, due `DEMO_POST_LEAD` from now, through the schedule service as the API
    creates one. Its text names the time, so a demo run again is not a duplicate."""
    demo = (await ctl.world())["demo"]
    ours = (demo["page_id"], demo["ig_user_id"], demo["org_urn"])
    accounts = await session.scalars(
        select(SocialAccount.id).where(
            SocialAccount.workspace_id == workspace_id, SocialAccount.external_id.in_(ours)
        )
    )
    publish_at = (utcnow() + DEMO_POST_LEAD).replace(microsecond=0)
    data = ScheduleCreate(
        content=ScheduleContent.model_validate(
            {
                "text": f"Hello from the Postmeter demo, published at {publish_at:%H:%M:%S} UTC",
                "media_urls": [ctl.media_url("demo-post.jpg")],
            }
        ),
        publish_at=publish_at,
        account_ids=list(accounts),
    )
    schedule = await create_schedule(
        session, workspace_id=workspace_id, data=data, allow_private_urls=True
    )
    return DemoPost(schedule.id, publish_at)


@contextlib.contextmanager
def sandbox_process(sock: socket.socket, clock_speed: float, state_file: str) -> Iterator[str]:
    """The demo sandbox in a child process, serving on `sock` (bound here, so a taken port
    fails before anything starts, and no other process can answer in its place)."""
    host, port = sock.getsockname()[:2]
    cmd = [
        sys.executable, "-m", "app.sandbox", "--fd", str(sock.fileno()), "--seed", "demo",
        "--clock-speed", str(clock_speed), "--state-file", state_file, "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, pass_fds=(sock.fileno(),))  # noqa: S603 - our own interpreter
    sock.close()  # the child has its own copy
    try:
        yield f"http://{host}:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _wait_for_sandbox(ctl: SandboxControl) -> None:
    for _ in range(100):
        with contextlib.suppress(Exception):
            if await ctl.health():
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the sandbox did not start")


def _bind(what: str, host: str, port: int) -> socket.socket:
    try:
        return bind_socket(host, port)
    except PortUnavailable as exc:
        raise PortUnavailable(f"{what}: {exc}") from None


async def run_demo(host: str, port: int, sandbox_port: int, clock_speed: float) -> None:
    """Both ports are bound first: a taken one ends the demo before it starts or prints."""
    base = load_settings_and_logging()
    state_dir = demo_data_dir(base)
    ensure_private_dir(state_dir)
    with _bind("API port", host, port) as api_sock:
        sandbox_sock = _bind("sandbox port", "127.0.0.1", sandbox_port)
        await _run_demo(base, api_sock, sandbox_sock, clock_speed)


async def _run_demo(
    base: Settings, api_sock: socket.socket, sandbox_sock: socket.socket, clock_speed: float
) -> None:
    host, port = api_sock.getsockname()[:2]
    state_dir = demo_data_dir(base)
    with sandbox_process(sandbox_sock, clock_speed, str(state_dir / "sandbox.json")) as url:
        async with SandboxControl(url) as ctl:
            await _wait_for_sandbox(ctl)
            secret = (await ctl.world())["demo"]["meta_app_secret"]
            settings = demo_settings(base, url, secret)
            async with command_runtime(settings=settings) as runtime:
                api_key, posts, post = await connect_demo(runtime, ctl)
                banner = Banner(
                    api=f"http://{host}:{port}",
                    sandbox=url,
                    key=api_key,
                    sample=growing_post(posts),
                    post=post,
                    speed=clock_speed,
                    data_dir=None if base.DATABASE_URL else settings.DATA_DIR,
                )
                console.print(banner.render(), highlight=False, soft_wrap=True)
                await serve_api(
                    settings, runtime, host, port, in_process_worker=True, sock=api_sock
                )


@dataclass(frozen=True)
class Banner:
    api: str
    sandbox: str
    key: str
    sample: TrackedPost | None
    post: DemoPost
    speed: float
    data_dir: Path | None  # the demo's own DATA_DIR, when it is not the user's database

    def render(self) -> str:
        api, sample = self.api, self.sample.schedule_id if self.sample else "<schedule_id>"
        curl = f'  curl -H "Authorization: Bearer $KEY" {api}/api/v1'
        lines = [
            f"\n[bold]Postmeter demo[/bold]: API {api}/api/v1 (docs {api}/docs), "
            f"platform sandbox {self.sandbox} (clock x{self.speed:g})",
            f"API key (shown once): [bold]{self.key}[/bold]\n",
            f"  export KEY={self.key}",
            f"{curl}/schedules",
            f"{curl}/insights/summary",
            f"{curl}/insights/metrics/{sample}",
            f"{curl}/insights/metrics/{sample}/history\n",
            "Metrics appear within a minute and grow every minute"
            + (" (the post above is the youngest)" if self.sample else "")
            + ".\n",
            f"A new post is scheduled for {self.post.publish_at:%H:%M:%S} UTC to the demo Page, "
            "Instagram account and LinkedIn organization; watch its targets go from pending "
            "to posted, then its metrics arrive:",
            f"{curl}/schedules/{self.post.schedule_id}",
            f"{curl}/schedules/{self.post.schedule_id}/attempts",
            f"{curl}/insights/metrics/{self.post.schedule_id}",
            f"  curl {self.sandbox}/_sandbox/published   # what the platforms received\n",
            "Ctrl-C stops the demo.",
        ]
        if self.data_dir is not None:
            lines.append(
                f"The demo's database is in {self.data_dir}/; admin commands reach it with "
                f'DATA_DIR set: DATA_DIR={self.data_dir} {_own_command()} workspace create "Acme"'
            )
        return "\n".join(lines) + "\n"


def _own_command() -> str:
    """How this process was invoked (`.venv/bin/postmeter` under `make run`), so the command
    printed works as pasted even when `postmeter` is not on the PATH."""
    invoked = Path(sys.argv[0])
    return str(invoked) if invoked.name == "postmeter" else "postmeter"


def register(cli: typer.Typer) -> None:
    @cli.command("demo")
    def demo(
        host: Annotated[str, typer.Option(help="Interface for the API.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="API port.")] = 8000,
        sandbox_port: Annotated[int, typer.Option(help="Sandbox port.")] = 9100,
        clock_speed: Annotated[
            float, typer.Option(help="Sandbox seconds per real second.", min=1.0)
        ] = 60.0,
    ) -> None:
        """Run the sandbox and Postmeter together, with the demo accounts connected."""
        try:
            asyncio.run(run_demo(host, port, sandbox_port, clock_speed))
        except PortUnavailable as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
