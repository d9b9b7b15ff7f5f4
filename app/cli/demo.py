"""`postmeter demo`: the sandbox platforms plus Postmeter on the embedded default, wired up.

Starts `postmeter sandbox --seed demo` in a child process (its clock runs fast), connects the
demo accounts, tracks every demo post, and serves the API with the poller in-process, so
metrics appear and grow within a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.common import command_runtime, console, load_settings_and_logging
from app.cli.run import serve_api
from app.core.config import Settings
from app.core.runtime import Runtime
from app.models import Provider, ScheduleExternal, SocialAccount, Workspace
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.schemas.accounts import AccountCreate, AccountUpdate
from app.schemas.schedules import ImportRef, ScheduleImport
from app.services.accounts import create_account, update_account
from app.services.schedules import import_schedule
from app.services.workspaces import create_api_key

DEMO_WORKSPACE = "Postmeter demo"


@dataclass
class DemoAccount:
    provider: Provider
    external_id: str
    name: str
    token: str
    owner_id: str
    platform: str


def demo_accounts(world: dict[str, Any]) -> list[DemoAccount]:
    d = world["demo"]
    fb, ig, li = Provider.FACEBOOK, Provider.INSTAGRAM, Provider.LINKEDIN
    return [
        DemoAccount(fb, d["page_id"], "Demo Page", d["page_token"], d["page_id"], "facebook"),
        DemoAccount(
            ig, d["ig_user_id"], "Demo Instagram", d["page_token"], d["ig_user_id"], "instagram"
        ),
        DemoAccount(
            li, d["org_urn"], "Demo Organization", d["org_admin_token"], d["org_id"], "linkedin"
        ),
        DemoAccount(
            li, d["member_urn"], "Demo Creator", d["member_token"], d["member_id"], "linkedin"
        ),
    ]


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
    }
    if not base.DATABASE_URL:
        update["DATA_DIR"] = base.DATA_DIR / "demo"  # keep the demo apart from real data
    return base.model_copy(update=update)


async def connect_demo(runtime: Runtime, ctl: SandboxControl) -> tuple[str, list[uuid.UUID]]:
    """Workspace + fresh API key, demo accounts (tokens refreshed), every demo post tracked."""
    world = await ctl.world()
    async with runtime.sessionmaker() as session, session.begin():
        workspace = await session.scalar(select(Workspace).where(Workspace.name == DEMO_WORKSPACE))
        if workspace is None:
            workspace = Workspace(name=DEMO_WORKSPACE)
            session.add(workspace)
            await session.flush()
        key = await create_api_key(session, workspace_id=workspace.id, name="demo")
        schedule_ids: list[uuid.UUID] = []
        for spec in demo_accounts(world):
            account = await _upsert_account(session, runtime, workspace.id, spec)
            posts = await ctl.list_posts(owner_id=spec.owner_id, platform=spec.platform)  # type: ignore[arg-type]
            schedule_ids += await _track(session, workspace.id, account, posts)
    return key.plaintext, schedule_ids


async def _upsert_account(
    session: AsyncSession, runtime: Runtime, workspace_id: uuid.UUID, spec: DemoAccount
) -> SocialAccount:
    """Connect the demo account, or reconnect it with its current token (as the API does:
    a reconnected account's posts are due again at once)."""
    token = SecretStr(spec.token)
    account = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.workspace_id == workspace_id,
            SocialAccount.provider == spec.provider,
            SocialAccount.external_id == spec.external_id,
        )
    )
    if account is None:
        data = AccountCreate(
            provider=spec.provider, external_id=spec.external_id, name=spec.name, access_token=token
        )
        return await create_account(
            session, workspace_id=workspace_id, data=data, cipher=runtime.cipher
        )
    return await update_account(
        session,
        workspace_id=workspace_id,
        account_id=account.id,
        data=AccountUpdate(access_token=token),
        cipher=runtime.cipher,
    )


async def _track(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    account: SocialAccount,
    posts: list[dict[str, Any]],
) -> list[uuid.UUID]:
    tracked = set(
        await session.scalars(
            select(ScheduleExternal.external_id).where(ScheduleExternal.account_id == account.id)
        )
    )
    out = []
    now = utcnow()
    for post in posts:
        if post["id"] in tracked:
            continue
        published = min(datetime.fromtimestamp(post["created_at"], UTC), now)
        data = ScheduleImport(
            published_at=published,
            refs=[ImportRef(account_id=account.id, external_id=post["id"])],
        )
        schedule = await import_schedule(session, workspace_id=workspace_id, data=data)
        out.append(schedule.id)
    return out


@contextlib.contextmanager
def sandbox_process(port: int, clock_speed: float, state_file: str) -> Iterator[str]:
    cmd = [
        sys.executable, "-m", "app.sandbox", "--port", str(port), "--seed", "demo",
        "--clock-speed", str(clock_speed), "--state-file", state_file, "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module
    try:
        yield f"http://127.0.0.1:{port}"
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


async def run_demo(host: str, port: int, sandbox_port: int, clock_speed: float) -> None:
    base = load_settings_and_logging()
    state_dir = base.DATA_DIR / "demo"
    state_dir.mkdir(parents=True, exist_ok=True)
    with sandbox_process(sandbox_port, clock_speed, str(state_dir / "sandbox.json")) as url:
        async with SandboxControl(url) as ctl:
            await _wait_for_sandbox(ctl)
            secret = (await ctl.world())["demo"]["meta_app_secret"]
            settings = demo_settings(base, url, secret)
            async with command_runtime(settings=settings) as runtime:
                api_key, schedule_ids = await connect_demo(runtime, ctl)
                _banner(host, port, url, api_key, schedule_ids, clock_speed)
                await serve_api(settings, runtime, host, port, in_process_worker=True)


def _banner(
    host: str, port: int, sandbox: str, key: str, schedules: list[uuid.UUID], speed: float
) -> None:
    api = f"http://{host}:{port}"
    sample = schedules[0] if schedules else "<schedule_id>"
    console.print(
        f"\n[bold]Postmeter demo[/bold]: API {api}/api/v1 (docs {api}/docs), "
        f"platform sandbox {sandbox} (clock x{speed:g})\n"
        f"API key (shown once): [bold]{key}[/bold]\n\n"
        f"  export KEY={key}\n"
        f'  curl -H "Authorization: Bearer $KEY" {api}/api/v1/schedules\n'
        f'  curl -H "Authorization: Bearer $KEY" {api}/api/v1/insights/summary\n'
        f'  curl -H "Authorization: Bearer $KEY" {api}/api/v1/insights/metrics/{sample}\n'
        f'  curl -H "Authorization: Bearer $KEY" {api}/api/v1/insights/metrics/{sample}/history\n\n'
        "Metrics appear within a minute and grow every minute. Ctrl-C stops the demo.\n",
        highlight=False,
        soft_wrap=True,
    )


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
        asyncio.run(run_demo(host, port, sandbox_port, clock_speed))
