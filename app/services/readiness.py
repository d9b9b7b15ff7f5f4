"""What `/readyz` checks: the database answers, its migrations are at head, and it takes a write.

The write is real and committed (an upsert of the one `readiness_heartbeat` row): a rolled-back
write would never reach SQLite's WAL file, so a full disk or a file that turned read-only under
a connection that opened before would pass it. On SQLite it takes the write lock, so it waits
for it at most half the probe's time; a write that succeeded is not repeated for
`WRITE_TTL_SECONDS`, so calling `/readyz` in a loop costs at most one write a second.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.core.clock import utcnow
from app.core.db import DISCARDING_FAULTS, LOCK_TIMEOUT_MS, TxMode, database_fault, with_mode
from app.core.runtime import Runtime
from app.models import ReadinessHeartbeat
from app.services.migrations import migration_status

WRITE_TTL_SECONDS = 1.0

OK = "ok"
_DISCARDING_FAULTS = {fault.value.removeprefix("database_") for fault in DISCARDING_FAULTS}


@dataclass(frozen=True, slots=True)
class Readiness:
    # "ok", "unreachable" or "timeout"
    database: str
    current: str | None
    head: str | None
    # "ok"; "busy", "read_only", "unavailable" (app.core.db.DatabaseFault without the
    # "database_" prefix); "timeout"; "error: <class>"; "skipped" (database or migrations not ok)
    write: str

    @property
    def migrations_ok(self) -> bool:
        return self.current == self.head

    @property
    def failing(self) -> list[str]:
        checks = {"database": self.database == OK, "migrations": self.migrations_ok}
        checks["write"] = self.write == OK
        return [name for name, ok in checks.items() if not ok]

    @property
    def ready(self) -> bool:
        return not self.failing

    def body(self) -> dict[str, Any]:
        return {
            "status": OK if self.ready else "unavailable",
            "database": self.database,
            "migrations": {"current": self.current, "head": self.head},
            "write": self.write,
            "failing": self.failing,
        }


def _fault_name(exc: BaseException) -> str:
    fault = database_fault(exc)
    if fault is None:
        return f"error: {type(exc).__name__}"
    return fault.value.removeprefix("database_")


async def _write_heartbeat(runtime: Runtime, lock_ms: int) -> str:
    values = {"id": 1, "checked_at": utcnow()}
    insert = sqlite_insert if runtime.settings.is_sqlite else pg_insert
    stmt = insert(ReadinessHeartbeat).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"], set_={"checked_at": values["checked_at"]}
    )
    try:
        async with runtime.api_write_sessionmaker() as session, session.begin():
            await session.connection(execution_options={LOCK_TIMEOUT_MS: lock_ms})
            await session.execute(stmt)
    except (SQLAlchemyError, OSError) as exc:
        return _fault_name(exc)
    return OK


@dataclass
class ReadinessProbe:
    """The checks, each call; the write at most once per `write_ttl` while it succeeds (a
    failed or timed-out write is tried again on the next call), one write at a time."""

    write_ttl: float = WRITE_TTL_SECONDS
    _written_at: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def check(self, runtime: Runtime) -> Readiness:
        """Every check, bounded by READYZ_TIMEOUT_SECONDS (a check still running then is cut)."""
        timeout = runtime.settings.READYZ_TIMEOUT_SECONDS
        lock_ms = min(runtime.settings.DATABASE_API_LOCK_TIMEOUT_MS, int(timeout * 1000 / 2))
        database, write = "timeout", "skipped"
        current = head = None
        try:
            async with asyncio.timeout(timeout):
                # The API's read mode: a writer holding SQLite's lock does not hold this up.
                status = await migration_status(with_mode(runtime.engine, TxMode.API_READ))
                database = OK if status.reachable else "unreachable"
                current, head = status.current, status.head
                if status.ready:
                    write = "timeout"  # unless the write answers in time
                    write = await self._write(runtime, lock_ms)
        except TimeoutError:
            pass
        return Readiness(database=database, current=current, head=head, write=write)

    async def _write(self, runtime: Runtime, lock_ms: int) -> str:
        async with self._lock:
            written = self._written_at
            if written is not None and time.monotonic() - written < self.write_ttl:
                return OK
            self._written_at = None
            result = await _write_heartbeat(runtime, lock_ms)
            if result in _DISCARDING_FAULTS:
                # The failed connection, and every pooled one opened before it, were thrown
                # away (app.core.db): a fresh connection says whether the fault is still on,
                # not a connection that opened read-only during one that has passed.
                result = await _write_heartbeat(runtime, lock_ms)
            if result == OK:
                self._written_at = time.monotonic()
            return result
