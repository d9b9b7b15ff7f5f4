"""Worker tests run against the in-process sandbox, like the integration tests, or against
real sandbox and poller processes (`real_processes`)."""

from tests.integration.conftest import (  # noqa: F401 - re-exported fixtures
    ctl,
    demo,
    sandbox_app,
    sandbox_transport,
    settings,
)
from tests.workers.real_processes import sandbox_ctl, sandbox_url  # noqa: F401 - fixtures
