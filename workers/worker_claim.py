"""One live process per worker id: a claim taken before DBOS launches, held for the process's life.

DBOS resumes, at launch, every in-flight workflow recorded under the launching executor id.
A second process started under an id a live process already uses (the same `WORKER_ID`, or
two `postmeter serve` on one host) would take over the first one's workflows while they run
("no longer owned by this execution") and repeat their platform calls. So before DBOS is
launched the process claims its id, and refuses to start when a live process holds it:

- PostgreSQL: a session-level advisory lock keyed by a hash of the id, on a connection of its
  own kept open for the process's life. The server drops it when that session ends, so a
  process killed with `kill -9` does not hold it, nor (after about a minute: TCP keepalives on
  both sides) one whose host died. A thread checks the connection every few seconds: when it
  was lost (the lock with it), the id is claimed again, and if another process took it
  meanwhile this one stops itself rather than run on under a shared id.
- SQLite: an exclusive `flock` on `DATA_DIR/worker-<id>.lock` (DBOS's state is in DATA_DIR).
  The OS releases it when the process dies, however it dies.

The claim is held per process: launching DBOS again in the same process under the same id
keeps it; `release_worker_claim` (from `destroy_dbos`) lets it go.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from app.core.config import ConfigError, Settings
from app.core.files import PRIVATE_FILE_MODE, ensure_private_dir

log = structlog.get_logger(__name__)


class WorkerIdInUse(ConfigError):
    """Another live process holds this worker id; this one must not launch DBOS under it."""


def _refusal(executor: str, holder: str | None) -> WorkerIdInUse:
    who = f" ({holder})" if holder else ""
    return WorkerIdInUse(
        f"worker id {executor!r} is in use by another running process{who}: two processes "
        "under one id would take over each other's workflows. Stop that process, or give "
        "this one a WORKER_ID of its own."
    )


def advisory_key(executor: str) -> int:
    """The signed 64-bit PostgreSQL advisory lock key of a worker id (namespaced, stable)."""
    digest = hashlib.blake2b(f"postmeter-worker:{executor}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_file_path(settings: Settings, executor: str) -> Path:
    return settings.DATA_DIR / f"worker-{executor}.lock"


def _location(settings: Settings, executor: str) -> str:
    """Where the claim lives: the lock file, or the database (never with its password)."""
    if settings.is_sqlite:
        return str(lock_file_path(settings, executor).resolve())
    return "database " + settings.sync_database_url.render_as_string(hide_password=True)


def _describe_self(executor: str) -> str:
    return f"postmeter {executor} pid {os.getpid()} on {socket.gethostname()}"


@dataclass
class WorkerClaim:
    executor: str
    where: str  # the lock file or the database it is held in
    _release: Any

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._release()


def _claim_sqlite(settings: Settings, executor: str) -> WorkerClaim:
    path = lock_file_path(settings, executor)
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = ""
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
        os.close(fd)
        raise _refusal(executor, holder or None) from None
    except BaseException:
        os.close(fd)
        raise
    # Who holds it, for the message a refused process prints (no secret in it).
    os.ftruncate(fd, 0)
    os.pwrite(fd, (_describe_self(executor) + "\n").encode(), 0)

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return WorkerClaim(executor, _location(settings, executor), release)


def _pg_conninfo(settings: Settings) -> str:
    return settings.sync_database_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )


# The server's side of the claim's connection (settable per session): a holder whose host
# died, not just its process, is noticed in about a minute and its session (and lock) ended.
SERVER_KEEPALIVE = (
    "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
)
# How often the holder checks that its claim's connection (and so its lock) is still there.
WATCH_SECONDS = 10.0


def _pg_connect(settings: Settings, executor: str) -> Any:
    import psycopg

    return psycopg.connect(
        _pg_conninfo(settings),
        autocommit=True,
        application_name=_describe_self(executor)[:63],
        options=SERVER_KEEPALIVE,
        # Our side: a server gone silent is noticed too.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
        connect_timeout=10,
    )


def _pg_try_lock(conn: Any, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _claim_postgres(settings: Settings, executor: str) -> WorkerClaim:
    key = advisory_key(executor)
    conn = _pg_connect(settings, executor)
    try:
        if not _pg_try_lock(conn, key):
            raise _refusal(executor, _pg_holder(conn, key))
    except BaseException:
        conn.close()
        raise
    watch = _PgClaimWatch(settings, executor, key, conn)
    watch.start()
    return WorkerClaim(executor, _location(settings, executor), watch.stop)


def _stop_this_process() -> None:
    """Another live process runs under our id: end this one as Ctrl-C / SIGTERM would."""
    os.kill(os.getpid(), signal.SIGTERM)


class _PgClaimWatch(threading.Thread):
    """Keeps the claim while the process lives. The lock lives in the connection's session:
    if that connection is lost (the server restarted, a network cut), the lock went with it,
    so the watch claims again on a new connection; if another process took the id
    meanwhile, this one must not go on under it: it logs why and stops itself (SIGTERM)."""

    def __init__(self, settings: Settings, executor: str, key: int, conn: Any) -> None:
        super().__init__(name=f"worker-claim-{executor}", daemon=True)
        self.settings, self.executor, self.key, self.conn = settings, executor, key, conn
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            with contextlib.suppress(Exception):
                self.conn.close()

    def run(self) -> None:
        while not self._stopped.wait(WATCH_SECONDS):
            with self._lock:
                if self._stopped.is_set():
                    return
                if self._alive():
                    continue
                held = self._claim_again()
            if held is False:
                log.error(
                    "worker.id_lost",
                    executor=self.executor,
                    reason="the claim's connection was lost and another process holds the id",
                )
                _stop_this_process()
                return

    def _alive(self) -> bool:
        try:
            self.conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means the session is gone
            return False
        return True

    def _claim_again(self) -> bool | None:
        """True: claimed again; False: another process has it; None: no database yet."""
        with contextlib.suppress(Exception):
            self.conn.close()
        try:
            self.conn = _pg_connect(self.settings, self.executor)
            held = _pg_try_lock(self.conn, self.key)
        except Exception:  # noqa: BLE001 - unreachable: DBOS cannot run either; look again
            log.warning("worker.id_claim_unreachable", executor=self.executor)
            return None
        if held:
            log.warning("worker.id_reclaimed", executor=self.executor)
        return held


def _pg_holder(conn: Any, key: int) -> str | None:
    """The holding session's application name (ours: `postmeter <id> pid N on <host>`)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    with contextlib.suppress(Exception):
        row = conn.execute(
            "SELECT a.application_name, a.client_addr FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = %s AND l.objid = %s AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        ).fetchone()
        if row:
            name, addr = row
            return f"{name}, from {addr}" if addr else str(name)
    return None


_held: WorkerClaim | None = None


def claim_worker_id(settings: Settings, executor: str) -> WorkerClaim:
    """Claim `executor` for this process (kept if already held here), or raise WorkerIdInUse."""
    global _held
    if _held is not None:
        if _held.executor == executor and _held.where == _location(settings, executor):
            return _held
        release_worker_claim()
    claim = (
        _claim_sqlite(settings, executor)
        if settings.is_sqlite
        else _claim_postgres(settings, executor)
    )
    log.info("worker.id_claimed", executor=executor, where=claim.where)
    _held = claim
    return claim


def release_worker_claim() -> None:
    global _held
    if _held is not None:
        _held.release()
        _held = None
