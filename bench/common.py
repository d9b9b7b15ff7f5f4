"""Helpers shared by the Postmeter benchmarks: sandbox process, databases, tracked posts.

The sandbox always runs as a separate process on loopback (``python -m app.sandbox``). Postmeter
settings are built in code (never from the developer's ``.env``) and passed to child processes
as JSON, so the process being measured starts clean.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.runtime import Runtime, build_runtime  # noqa: E402
from app.core.security import generate_encryption_key  # noqa: E402
from app.models import (  # noqa: E402
    ExternalStatus,
    Provider,
    Schedule,
    ScheduleExternal,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from app.models.base import new_id, utcnow  # noqa: E402
from app.sandbox.client import PostPlatform, SandboxControl  # noqa: E402
from app.services.migrations import upgrade_database  # noqa: E402
from app.services.poll_planner import PlannedBatch, claim_due_batches  # noqa: E402

BENCH_DIR = Path(tempfile.gettempdir()) / "postmeter-bench"  # scratch databases, profiles
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNLIMITED = 10**9
QUOTAS = (
    "meta_app_calls_per_hour",
    "meta_user_calls_per_hour",
    "meta_page_calls_per_day",
    "meta_ig_calls_per_day",
    "linkedin_app_calls_per_day",
    "linkedin_member_calls_per_day",
)
FB_MEDIA = ["status", "photo", "video", "link"]
IG_MEDIA = ["IMAGE", "CAROUSEL_ALBUM", "VIDEO"]
LI_MEDIA = ["text", "image", "video", "article"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of its live descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(children.get(current, []))
    return total


def machine() -> str:
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"nproc={os.cpu_count()}, {when}, Python {sys.version.split()[0]}, "
        f"CPU probe {cpu_probe_ms():.0f} ms"
    )


def cpu_probe_ms() -> float:
    """How fast this machine runs Python now: the best of three loops of 2 million additions,
    in ms. These machines' speed changes from hour to hour (seen here on 2026-12-02: a loop
    like it took 1.4-1.7 s at 18:55 and 0.82-0.87 s at 19:20, and `/healthz` answered 1,496
    and 2,283 requests/s); absolute figures compare only between runs with a like probe."""
    best = float("inf")
    for _ in range(3):
        start, total = time.perf_counter(), 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best * 1000


class ServerProcess:
    """A server subprocess on a free loopback port; `async with` waits until `health_path`
    answers 200. Its output goes to a log file: an unread pipe fills up (uvicorn logs every
    client that times out) and then blocks the server on write."""

    name = "server"
    health_path = "/"  # "": a process with no port to wait for (started and left to run)
    startup_timeout = 30.0

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cwd: Path = ROOT
        self.env: dict[str, str] | None = None  # None: this process's environment

    def command(self) -> list[str]:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        self.log = BENCH_DIR / f"{self.name}-{self.port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                self.command(), cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        if not self.health_path:
            return self
        deadline = time.monotonic() + self.startup_timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{self.url}{self.health_path}")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up: {self.log.read_text()[-2000:]}")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Sandbox(ServerProcess):
    """`python -m app.sandbox --seed demo` in a subprocess."""

    name = "sandbox"
    health_path = "/_sandbox/health"

    def __init__(self, nice: int = 0) -> None:
        super().__init__()
        self.nice = nice  # >0: it takes only the CPU the others leave (bench_api --sandbox-nice)

    def command(self) -> list[str]:
        port = str(self.port)
        nice = ["nice", "-n", str(self.nice)] if self.nice else []
        sandbox = [sys.executable, "-m", "app.sandbox", "--port", port, "--seed", "demo"]
        return [*nice, *sandbox, "--quiet"]


# --- databases ------------------------------------------------------------------------------


def fresh_database(kind: str, data_dir: Path, name: str = "pm_bench") -> str:
    """An empty database URL (SQLite file in `data_dir`, or PostgreSQL database `name`)."""
    if kind == "sqlite":
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        return f"sqlite:///{data_dir / 'postmeter.sqlite'}"
    import psycopg

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def settings_values(
    db_url: str, data_dir: Path, sandbox: str, secret: str, **over: Any
) -> dict[str, Any]:
    """Plain Settings values (JSON-able, to hand to a child process)."""
    values: dict[str, Any] = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": db_url,
        "TOKEN_ENCRYPTION_KEYS": generate_encryption_key(),
        "META_GRAPH_API_BASE": sandbox,
        "LINKEDIN_API_BASE": sandbox,
        "META_APP_SECRET": secret,
        "LOG_LEVEL": "WARNING",
    }
    values.update(over)
    return values


def overrides(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` options as settings values."""
    return {key: value for key, _, value in (item.partition("=") for item in items)}


def make_settings(values: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **values)


async def migrated_runtime(values: dict[str, Any]) -> Runtime:
    runtime = build_runtime(make_settings(values))
    await upgrade_database(runtime.engine)
    return runtime


# --- sandbox world and tracked posts --------------------------------------------------------


@dataclass
class Account:
    key: str  # fb | ig | li_org | li_member
    provider: Provider
    external_id: str
    token: str
    owner: str  # sandbox owner id for seeding
    post_ids: list[str] = field(default_factory=list)
    row_id: uuid.UUID | None = None


async def create_accounts(
    ctl: SandboxControl, demo: dict[str, Any], counts: dict[str, int]
) -> list[Account]:
    """`counts[key]` sandbox accounts per kind (fb pages, ig accounts, li orgs, li members)."""
    accounts: list[Account] = []
    for key, n in counts.items():
        for i in range(n):
            if key in ("fb", "ig"):
                page = await ctl.create_page(name=f"bench {key} {i}", app_id=demo["meta_app_id"])
                if key == "fb":
                    accounts.append(
                        Account(
                            key, Provider.FACEBOOK, page["id"], page["access_token"], page["id"]
                        )
                    )
                else:
                    ig = await ctl.create_ig_account(page["id"])
                    accounts.append(
                        Account(key, Provider.INSTAGRAM, ig["id"], page["access_token"], ig["id"])
                    )
            elif key == "li_org":
                org = await ctl.create_linkedin_org(name=f"bench org {i}")
                admin = await ctl.create_linkedin_member(admin_of=[org["id"]])
                accounts.append(
                    Account(key, Provider.LINKEDIN, org["urn"], admin["access_token"], org["id"])
                )
            else:
                member = await ctl.create_linkedin_member()
                accounts.append(
                    Account(
                        key, Provider.LINKEDIN, member["urn"], member["access_token"], member["id"]
                    )
                )
    return accounts


async def seed_posts(ctl: SandboxControl, account: Account, count: int) -> None:
    """Posts 1 h to 30 days old, media types cycled (videos go through video paths)."""
    platforms: dict[str, PostPlatform] = {"fb": "facebook", "ig": "instagram"}
    platform = platforms.get(account.key, "linkedin")
    media = {"fb": FB_MEDIA, "ig": IG_MEDIA}.get(account.key, LI_MEDIA)
    account.post_ids = await ctl.seed_posts(
        platform, account.owner, count, media_type=media, age_hours=(1.0, 720.0)
    )


async def claim_due(runtime: Runtime) -> list[PlannedBatch]:
    """Every due post, claimed and cut as the poller cuts them (per account and cached media
    type, `INSIGHTS_POSTS_PER_WORKFLOW` posts per refresh call)."""
    async with runtime.sessionmaker() as session, session.begin():
        return await claim_due_batches(
            session,
            now=utcnow(),
            batch_size=runtime.settings.INSIGHTS_POSTS_PER_WORKFLOW,
            limit=10**7,
        )


async def insert_accounts(
    runtime: Runtime, accounts: list[Account], name: str = "bench"
) -> uuid.UUID:
    """A workspace and the accounts (their `row_id`s set), bulk-inserted; the workspace id."""
    ws = new_id()
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(insert(Workspace), [{"id": ws, "name": name}])
        rows = []
        for acc in accounts:
            acc.row_id = new_id()
            rows.append({
                "id": acc.row_id, "workspace_id": ws, "provider": acc.provider,
                "external_id": acc.external_id, "name": acc.external_id,
                "access_token_enc": runtime.cipher.encrypt(acc.token),
            })  # fmt: skip
        await session.execute(insert(SocialAccount), rows)
    return ws


async def track_posts(runtime: Runtime, accounts: list[Account], *, chunk: int = 5000) -> int:
    """Bulk-insert a workspace, the accounts, and one schedule + schedule_external per post."""
    now = utcnow()
    published = now - timedelta(hours=2)
    ws = await insert_accounts(runtime, accounts)
    total = 0
    pending = [(acc, pid) for acc in accounts for pid in acc.post_ids]
    for start in range(0, len(pending), chunk):
        schedules, externals = [], []
        for acc, pid in pending[start : start + chunk]:
            sid = new_id()
            schedules.append({
                "id": sid, "workspace_id": ws, "status": ScheduleStatus.POSTED, "text": pid,
                "media_urls": [], "publish_at": published, "published_at": published,
            })  # fmt: skip
            externals.append({
                "id": new_id(), "schedule_id": sid, "workspace_id": ws, "provider": acc.provider,
                "account_id": acc.row_id, "external_id": pid, "published_at": published,
                "status": ExternalStatus.LIVE, "next_fetch_at": now, "consecutive_failures": 0,
            })  # fmt: skip
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(insert(Schedule), schedules)
            await session.execute(insert(ScheduleExternal), externals)
        total += len(externals)
    return total


async def make_due_again(runtime: Runtime) -> None:
    """Everything due now again (for a second poll or the next variant of a run)."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE schedule_external SET next_fetch_at = :now"),
            {"now": _db_time(runtime, utcnow())},
        )


def _db_time(runtime: Runtime, moment: datetime) -> Any:
    return moment.replace(tzinfo=None) if runtime.settings.is_sqlite else moment


async def reset_tracking(runtime: Runtime) -> None:
    """Forget every fetch: no snapshots, no analytics, nothing learned, everything due now."""
    async with runtime.sessionmaker() as session, session.begin():
        for table in ("post_metrics", "schedule_metrics", "throttle_states", "metric_rejections"):
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        await session.execute(
            text(
                "UPDATE schedule_external SET next_fetch_at = :now, media_type = NULL, "
                "last_fetched_at = NULL, last_error_kind = NULL, last_error = NULL, "
                "consecutive_failures = 0, status = 'live'"
            ),
            {"now": _db_time(runtime, utcnow())},
        )
        await session.execute(text("UPDATE social_accounts SET status = 'active'"))


# --- child processes ------------------------------------------------------------------------


def run_child(config: dict[str, Any], timeout: float, pyspy: str | None = None) -> dict[str, Any]:
    """Run `bench/postmeter_proc.py` (the measured Postmeter process); its last line is JSON.

    `pyspy`: sample it with `py-spy record --threads --gil` to this collapsed-stack file:
    only samples holding the GIL, so the shares are of the one core Python code can use.
    """
    cmd = [sys.executable, str(ROOT / "bench" / "postmeter_proc.py"), json.dumps(config)]
    if pyspy:
        # The venv's own py-spy (a dev dependency), also when the venv is not activated.
        exe = Path(sys.executable).with_name("py-spy")
        binary = str(exe) if exe.exists() else "py-spy"
        spy = [binary, "record", "-r", "200", "-f", "raw", "--threads", "--gil", "-o", pyspy]
        cmd = [*spy, "--", *cmd]
    proc = subprocess.run(  # noqa: S603
        cmd,
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    # Its log (warnings and up), for a look after the run.
    log_path = BENCH_DIR / f"child-{config.get('mode', 'run')}.log"
    log_path.write_text(proc.stderr)
    result["log"] = str(log_path)
    return result
