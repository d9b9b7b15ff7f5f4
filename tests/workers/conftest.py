"""Worker tests run against the in-process sandbox, like the integration tests."""

from tests.integration.conftest import (  # noqa: F401 - re-exported fixtures
    ctl,
    demo,
    sandbox_app,
    sandbox_transport,
    settings,
)
