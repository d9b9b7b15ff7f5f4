"""Property-based passes over the OpenAPI schema with every schemathesis check: no 500, every
request the schema admits is accepted (ST202) and every one it refuses is refused, responses
match their declared status, headers and schema.

The stateful phase (calls chained through the links schemathesis infers: create an account,
read, edit, delete it; schedule with it...) runs with the schemathesis CLI against `postmeter
serve`, with the same hooks (tests/routes/schemathesis_hooks.py has the command): in-process,
hypothesis's state machine over one shared database is flaky (FlakyStrategyDefinition)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from app.core.config import Settings
from app.core.runtime import build_runtime
from app.main import create_app
from app.services.migrations import upgrade_database
from app.services.workspaces import create_workspace
from tests.conftest import make_settings
from tests.routes import schemathesis_hooks  # noqa: F401 - registers the clock rules' hook

# Hundreds of requests a run from one key and address: limits far above them, so the checks
# meet the API's answers, not its rate limiter (a 429 is still a documented answer).
_FUZZ_LIMITS = {
    "RATE_LIMIT_PER_KEY": "1000000/minute",
    "RATE_LIMIT_FORCE_REFRESH": "1000000/minute",
    "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
    "RATE_LIMIT_PUBLIC": "1000000/minute",
}


def _settings(folder: Path) -> Settings:
    limits = {name: value for name, value in _FUZZ_LIMITS.items() if name in Settings.model_fields}
    return make_settings(folder, f"sqlite:///{folder / 'schemathesis.sqlite'}", **limits)


def _new_key(cfg: Settings, *, upgrade: bool = False) -> str:
    """A new workspace's API key, made through an engine of its own (the app's runs on the test
    client's event loop)."""

    async def _make() -> str:
        runtime = build_runtime(cfg)
        try:
            if upgrade:
                await upgrade_database(runtime.engine)
            async with runtime.sessionmaker() as session, session.begin():
                _ws, key = await create_workspace(session, name="fuzz")
            return key.plaintext
        finally:
            await runtime.aclose()

    return asyncio.run(_make())


_CONFIG = _settings(Path(tempfile.mkdtemp(prefix="pm-schemathesis-")))
_KEY = _new_key(_CONFIG, upgrade=True)
_APP = create_app(_CONFIG, runtime=build_runtime(_CONFIG))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)
schema.config.update(headers={"Authorization": f"Bearer {_KEY}"})

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,  # the same cases every run: a failure here reproduces
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}


@schema.parametrize()
@settings(max_examples=30, **_SETTINGS)
def test_every_check(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()


class APIWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Each scenario in a workspace of its own: it starts from nothing, whatever ran before."""

    def setup(self) -> None:
        self.auth = {"Authorization": f"Bearer {_new_key(_CONFIG)}"}

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:  # noqa: ARG002
        return {"headers": self.auth}


TestAPIWorkflow = APIWorkflow.TestCase
TestAPIWorkflow.settings = settings(max_examples=40, stateful_step_count=8, **_SETTINGS)
