from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.config import Settings
from app.core.runtime import Runtime, build_runtime
from app.main import create_app
from tests.app_client import app_client


def _env(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url.render_as_string(hide_password=False),
        "DATA_DIR": str(settings.DATA_DIR),
        "TOKEN_ENCRYPTION_KEYS": settings.TOKEN_ENCRYPTION_KEYS.get_secret_value()
        if settings.TOKEN_ENCRYPTION_KEYS
        else "",
        "LOG_LEVEL": "WARNING",
    }


def _field(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {output!r}")


async def test_workspace_and_key_commands(settings: Settings) -> None:
    cli_runner = CliRunner()
    env = _env(settings)

    async def invoke(args: list[str]) -> Result:
        # The CLI runs its own event loop, so call it from a thread.
        return await asyncio.to_thread(cli_runner.invoke, cli, args, env=env)

    assert (await invoke(["db", "upgrade"])).exit_code == 0
    created = await invoke(["workspace", "create", "Acme"])
    assert created.exit_code == 0, created.output
    workspace_id = _field(created.output, "workspace_id")
    first_key = _field(created.output, "api_key")
    second = await invoke(["key", "create", "--workspace", workspace_id])
    assert second.exit_code == 0, second.output
    second_key = _field(second.output, "api_key")
    second_id = _field(second.output, "api_key_id")

    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    async with app_client(app, base_url="http://t", raise_app_exceptions=True) as c:
        for key in (first_key, second_key):
            r = await c.get("/api/v1/schedules", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200
        revoked = await invoke(["key", "revoke", second_id])
        assert revoked.exit_code == 0, revoked.output
        r = await c.get("/api/v1/schedules", headers={"Authorization": f"Bearer {second_key}"})
        assert r.status_code == 401
    await runtime.aclose()

    missing = await invoke(["key", "create", "--workspace", "01a20b69-38bc-7e0b-ad4d-80f306a8d4b0"])
    assert missing.exit_code == 1
    assert "not found" in missing.output


async def test_keys_generate_and_rotate(runtime: Runtime) -> None:
    """On a database with no accounts (`runtime` empties PostgreSQL's, which other tests'
    CLI runs leave accounts in), rotation re-encrypts nothing."""
    runner = CliRunner()
    env = _env(runtime.settings)
    generated = await asyncio.to_thread(runner.invoke, cli, ["keys", "generate"], env=env)
    new_key = generated.output.strip()
    rotated = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["keys", "rotate-tokens"],
        env={**env, "TOKEN_ENCRYPTION_KEYS": f"{new_key},{env['TOKEN_ENCRYPTION_KEYS']}"},
    )
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted 0 token(s)" in rotated.output
