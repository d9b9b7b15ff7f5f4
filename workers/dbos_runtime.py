"""One DBOS per process: its configuration, launch and the names it is launched under.

The poller and the publishing engine share it (`workers.background` starts both; a
`postmeter poll` pass starts the poller alone), so how DBOS is configured lives here once.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

from dbos import DBOS

from app import __version__
from app.core.config import Settings
from app.core.files import prepare_sqlite_file
from workers.worker_claim import claim_worker_id, release_worker_claim


def dbos_system_database_url(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"sqlite:///{(settings.DATA_DIR / 'dbos.sqlite').as_posix()}"
    return settings.sync_database_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )


def _prepare_sqlite_file(path: Path) -> None:
    """WAL lets DBOS's queue threads and our workflows read while one writes (2x throughput)."""
    prepare_sqlite_file(path)  # 0600 before SQLite opens it (its -wal, -shm follow)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def executor_id(settings: Settings, role: str) -> str:
    """This process's DBOS executor id: `WORKER_ID`, else "<host or local>-<role>".

    DBOS resumes, at launch, the in-flight workflows recorded under the launching process's
    id, so the id must be stable across restarts and never shared by two live processes.
    The role keeps the usual pairs apart without configuration: `postmeter serve` and a
    `postmeter poll` beside it on one SQLite file, or a worker and a one-off pass on one host.
    """
    if settings.WORKER_ID:
        return settings.WORKER_ID
    return f"{'local' if settings.is_sqlite else socket.gethostname()}-{role}"


def tick_cron(seconds: int) -> str:
    """A 6-field cron for 'every N seconds' (N rounded to a divisor of a minute or hour)."""
    if seconds < 60:
        step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= seconds)
        return f"*/{step} * * * * *"
    minutes = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) if d <= seconds // 60)
    return f"0 */{minutes} * * * *" if minutes < 60 else "0 0 * * * *"


def launch_dbos(settings: Settings, executor: str) -> None:
    """Configure and launch DBOS in this process (inside the running loop: async workflows
    then run on it, with our engine and clients). Queues are registered after this.

    The worker id is claimed first (`workers.worker_claim`): DBOS takes over the id's
    in-flight workflows at launch, so a process whose id a live process holds stops here,
    with `WorkerIdInUse`, before it touches them."""
    claim_worker_id(settings, executor)
    if settings.is_sqlite:
        _prepare_sqlite_file(settings.DATA_DIR / "dbos.sqlite")
    # DBOS logs only to the "dbos" logger and gives it a console handler of its own unless it
    # has one; send its records through our (redacting) handlers instead. Idempotent.
    dbos_logger = logging.getLogger("dbos")
    dbos_logger.handlers[:] = [logging.NullHandler()]
    dbos_logger.propagate = True
    DBOS(
        config={
            "name": "postmeter",
            "system_database_url": dbos_system_database_url(settings),
            # Pinned: a restarted worker only resumes workflows of its own version and id.
            "application_version": __version__,
            "executor_id": executor,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
            "sys_db_pool_size": settings.DBOS_POOL_SIZE,
        }
    )
    DBOS.launch()


def destroy_dbos() -> None:
    DBOS.destroy(destroy_registry=False)
    release_worker_claim()
