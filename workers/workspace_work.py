"""A deleted workspace's DBOS work: its publish and fetch workflows still queued, delayed or
running, found by their deterministic ids and cancelled through DBOS's client API.

Ids (built in `app.scheduler.engine` and `app.services.poll_planner`):
`publish:{target_id}:{attempt}`, `publish-call:{target_id}:{attempt}`,
`settle:{target_id}:{attempt}` and
`insights-fetch:{account_id}:{due}:{digest}`. Cancelling is a courtesy, not what keeps the
delete safe: a workflow of a deleted workspace finds no rows and ends without a platform call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from dbos import DBOSClient
from sqlalchemy import create_engine, inspect

from app.core.config import Settings
from workers.dbos_runtime import dbos_system_database_url

NOT_FINISHED = ["ENQUEUED", "DELAYED", "PENDING"]
PREFIXES_PER_QUERY = 200


def workflow_prefixes(target_ids: Iterable[str], account_ids: Iterable[str]) -> list[str]:
    return [
        *(f"{kind}:{t}:" for t in target_ids for kind in ("publish", "publish-call", "settle")),
        *(f"insights-fetch:{a}:" for a in account_ids),
    ]


def _system_database_exists(settings: Settings) -> bool:
    """DBOS's tables exist (a client must not be pointed at a database DBOS never set up)."""
    if settings.is_sqlite:
        return (settings.DATA_DIR / "dbos.sqlite").is_file()
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("workflow_status", schema="dbos")
    finally:
        engine.dispose()


def _cancel(settings: Settings, prefixes: list[str]) -> list[str]:
    if not prefixes or not _system_database_exists(settings):
        return []
    client = DBOSClient(system_database_url=dbos_system_database_url(settings))
    try:
        ids: list[str] = []
        for i in range(0, len(prefixes), PREFIXES_PER_QUERY):
            found = client.list_workflows(
                workflow_id_prefix=prefixes[i : i + PREFIXES_PER_QUERY],
                status=NOT_FINISHED,
                load_input=False,
                load_output=False,
            )
            ids += [w.workflow_id for w in found]
        if ids:
            client.cancel_workflows(ids)
        return ids
    finally:
        client.destroy()


async def cancel_workspace_work(
    settings: Settings, target_ids: Iterable[str], account_ids: Iterable[str]
) -> list[str]:
    """Cancel the unfinished workflows of these targets and accounts; their ids."""
    prefixes = workflow_prefixes(target_ids, account_ids)
    return await asyncio.to_thread(_cancel, settings, prefixes)
