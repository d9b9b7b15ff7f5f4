"""After polling (with faults and a revoked token), no token is in any file Postmeter wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

from app.core.runtime import Runtime
from app.models import PostMetrics, ScheduleExternal
from app.models.base import utcnow
from app.sandbox.client import SandboxControl
from app.services.insights_refresh import clean_payload
from tests.sandbox_harness import build_world
from workers import insights_poller


async def test_no_token_in_any_written_file(
    runtime: Runtime,
    poller: insights_poller.PollerContext,
    ctl: SandboxControl,
    demo: dict[str, Any],
) -> None:
    await build_world(runtime, ctl, demo, {"fb": 60, "li_org": 10, "ig": 5, "li_member": 2})
    await ctl.set_fault("*", "5xx", rate=0.3)
    await insights_poller.run_once()
    await ctl.clear_faults()
    await ctl.revoke_token(demo["page_token"])
    async with runtime.sessionmaker() as s, s.begin():
        await s.execute(update(ScheduleExternal).values(next_fetch_at=utcnow()))
    await insights_poller.run_once()
    async with runtime.sessionmaker() as s:
        assert await s.scalar(select(PostMetrics.id).limit(1)) is not None
    tokens = [demo[k] for k in ("page_token", "org_admin_token", "member_token")]
    if not runtime.settings.is_sqlite:
        # DBOS keeps its workflow inputs, outputs and errors in the same database.
        async with runtime.engine.connect() as conn:
            dump = repr(
                [
                    (await conn.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
                    for table in ("dbos.workflow_status", "dbos.operation_outputs", "post_metrics")
                ]
            )
        for token in tokens:
            assert token not in dump
    await runtime.engine.dispose()
    files = [p for p in Path(runtime.settings.DATA_DIR).rglob("*") if p.is_file()]
    if runtime.settings.is_sqlite:
        assert any(p.name.startswith("dbos.sqlite") for p in files)
    for path in files:
        raw = path.read_bytes()
        for token in tokens:
            assert token.encode() not in raw, path


def test_clean_payload_drops_paging_credentials_and_nul() -> None:
    payload: dict[str, Any] = {
        "insights": {
            "data": [{"name": "post_media_view", "values": [{"value": 5}]}],
            "paging": {
                "next": "https://graph.facebook.com/v25.0/1/insights?access_token=EAAsecret"
            },
        },
        "message": "hello\u0000 EAAsecret",
        "list": ["EAAsecret", 3],
    }
    cleaned = clean_payload(payload, secrets=("EAAsecret",))
    assert "paging" not in cleaned["insights"]
    assert cleaned["insights"]["data"] == payload["insights"]["data"]
    assert cleaned["message"] == "hello ***"
    assert cleaned["list"] == ["***", 3]


def test_clean_payload_leaves_clean_payloads_untouched() -> None:
    payload = {"insights": {"data": [{"name": "post_media_view", "values": [{"value": 5}]}]}}
    assert clean_payload(payload, secrets=("EAAsecret",)) is payload
