"""Property-based pass over the OpenAPI schema: no input may produce a 500."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.core.runtime import build_runtime
from app.main import create_app
from app.services.migrations import upgrade_database
from app.services.workspaces import create_workspace
from tests.conftest import make_settings


def _build_app(folder: Path) -> tuple[object, str]:
    cfg = make_settings(folder, f"sqlite:///{folder / 'schemathesis.sqlite'}")
    runtime = build_runtime(cfg)

    async def _prepare() -> str:
        await upgrade_database(runtime.engine)
        async with runtime.sessionmaker() as session, session.begin():
            _ws, key = await create_workspace(session, name="fuzz")
        return key.plaintext

    key = asyncio.run(_prepare())
    return create_app(cfg, runtime=runtime), key


_FOLDER = Path(tempfile.mkdtemp(prefix="pm-schemathesis-"))
_APP, _KEY = _build_app(_FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors(case: schemathesis.Case[Any]) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_KEY}"})
    case.validate_response(response, checks=[not_a_server_error])
