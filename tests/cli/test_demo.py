"""`postmeter demo`, run as a user would: metrics appear and grow in the API within a minute,
and the post the demo schedules a minute ahead is published to its three accounts, once each,
then measured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, fn: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_metrics_appear_and_grow(tmp_path: Path) -> None:
    """Also: the post the banner names is the youngest and grows, and a workspace created the
    way the banner says lives in the demo's database (its key works against the demo's API)."""
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", "demo", "--port", str(port),
             "--sandbox-port", str(sandbox_port)],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    started = time.monotonic()
    try:
        banner = _wait(
            "the banner", lambda: "workspace create" in (text := out.read_text()) and text, 60
        )
        key = re.search(r"pm_[0-9a-f]{16}_[\w-]+", banner)
        named = re.search(r"/insights/metrics/([0-9a-f-]{36})/history", banner)
        admin = re.search(r"(DATA_DIR=\S+) (\S+) workspace create", banner)
        scheduled = re.search(r"/schedules/([0-9a-f-]{36})/attempts", banner)
        assert key, banner
        assert scheduled, banner
        assert named, banner
        assert admin, banner
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key[0]}"}
        )

        def summary() -> dict[str, Any] | None:
            s: dict[str, Any] = api.get("/api/v1/insights/summary").json()
            return s if s["fetched_last_24h"] == s["posts_tracked"] > 0 else None

        first = _wait("every demo post fetched", summary, 60)
        assert first["posts_tracked"] == 40
        assert first["errors_by_kind"] == {}
        assert time.monotonic() - started < 60

        schedule = named[1]
        external = api.get(f"/api/v1/schedules/{schedule}/external").json()[0]["external_id"]
        posts = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/posts").json()["posts"]
        growing = [p for p in posts if p["product_type"] != "STORY"]
        assert external == max(growing, key=lambda p: p["created_at"])["id"]
        before = api.get(f"/api/v1/insights/metrics/{schedule}").json()["totals"]["impressions"]
        assert before is not None

        def grown() -> bool:
            now = api.get(f"/api/v1/insights/metrics/{schedule}").json()["totals"]["impressions"]
            return bool(now > before)

        _wait("the named post's metrics to grow in the background", grown, 90)
        history = api.get(f"/api/v1/insights/metrics/{schedule}/history").json()["items"]
        assert len(history) >= 2  # one point per minute in the demo

        # The post the demo scheduled: published at its time to all three, once each, measured.
        new_post = scheduled[1]
        status = api.get(f"/api/v1/schedules/{new_post}").json()
        assert status["status"] in ("scheduled", "publishing", "posted"), status

        def posted() -> dict[str, Any] | None:
            body: dict[str, Any] = api.get(f"/api/v1/schedules/{new_post}").json()
            return body if body["status"] == "posted" else None

        body = _wait("the demo's new post published", posted, 90)
        assert {t["provider"] for t in body["targets"]} == {"facebook", "instagram", "linkedin"}
        published = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/published").json()
        assert published["total"] == 3, published
        assert published["duplicates"] == 0
        assert {p["post_id"] for p in published["posts"]} == {
            t["external_id"] for t in body["targets"]
        }

        def measured() -> bool:
            metrics = api.get(f"/api/v1/insights/metrics/{new_post}").json()
            return metrics.get("totals", {}).get("impressions") is not None

        _wait("the new post's metrics", measured, 60)

        # The banner's admin command, as printed (with this interpreter for `postmeter`).
        data_dir = admin[1].removeprefix("DATA_DIR=")
        assert Path(data_dir) == tmp_path / "data" / "demo"
        created = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "app.cli", "workspace", "create", "Acme"],
            cwd=ROOT, env={**env, "DATA_DIR": data_dir}, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
        acme_key = re.search(r"api_key: +(\S+)", created.stdout)
        assert acme_key, created.stdout
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/schedules",
            headers={"Authorization": f"Bearer {acme_key[1]}"},
        )
        assert r.status_code == 200
        assert r.json()["items"] == []  # a workspace of its own in the demo's database
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
