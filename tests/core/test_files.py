"""File modes (issue 10, finding 7): DATA_DIR 0700; the database, its WAL and shared-memory
files, DBOS's state, the worker lock and the token encryption key 0600; files an older run
left readable are tightened at start-up with a log line; files not Postmeter's are left alone.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest

from app.core.files import (
    OWN_FILES,
    ensure_private_file,
    prepare_sqlite_file,
    secure_data_dir,
)
from app.core.security import KEY_FILE_NAME
from tests.cli_process import postmeter, read_until
from tests.conftest import free_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env(data_dir: Path) -> dict[str, str]:
    """The embedded default in `data_dir`, no key given (so one is generated there), and the
    usual umask of a shell (022), which alone would leave everything world-readable."""
    return {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "INSIGHTS_POLL_TICK_SECONDS": "3600",
    }


@pytest.mark.slow
async def test_serve_keeps_the_data_folder_and_every_file_in_it_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = postmeter(_env(data), "serve", "--port", str(free_port()), umask=0o022)
    try:
        await read_until(proc, "Application startup complete")
        files = {p.name: _mode(p) for p in data.iterdir()}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert _mode(data) == 0o700
    # While serving: both databases in WAL mode, the generated key and the worker lock.
    for name in (
        "postmeter.sqlite",
        "postmeter.sqlite-wal",
        "postmeter.sqlite-shm",
        "dbos.sqlite",
        "dbos.sqlite-wal",
        "dbos.sqlite-shm",
        KEY_FILE_NAME,
        "worker-local-serve.lock",
    ):
        assert name in files, sorted(files)
    assert files == dict.fromkeys(files, 0o600), {n: oct(m) for n, m in files.items()}


@pytest.mark.slow
async def test_files_left_readable_by_an_older_run_are_tightened_at_start_up(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    loose = [data / "postmeter.sqlite", data / "dbos.sqlite", data / KEY_FILE_NAME]
    (data / KEY_FILE_NAME).write_text("ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U=\n")
    for path in loose[:2]:
        path.touch()
    notes = data / "notes.txt"  # not Postmeter's: left as it is
    notes.write_text("mine")
    for path in [*loose, notes]:
        path.chmod(0o644)
    proc = postmeter(_env(data), "db", "current", umask=0o022)
    out, _ = proc.communicate(timeout=60)
    text = out.decode()
    assert _mode(data) == 0o700
    assert {p.name: oct(_mode(p)) for p in loose} == {p.name: "0o600" for p in loose}
    assert _mode(notes) == 0o644
    fixed = [json.loads(line) for line in text.splitlines() if "files.mode_fixed" in line]
    assert {Path(e["path"]).name for e in fixed} == {"data", *(p.name for p in loose)}, text
    assert all(e["was"] in ("0o644", "0o755") for e in fixed)


# --- the helpers ---------------------------------------------------------------------------


def test_sqlite_file_is_created_private_and_its_companions_follow(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    old = os.umask(0o022)
    try:
        db = tmp_path / "sub" / "x.sqlite"
        prepare_sqlite_file(db)
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE t (x)")
            conn.execute("INSERT INTO t VALUES (1)")
            conn.commit()
            # SQLite gives -wal and -shm the database file's mode.
            assert _mode(db) == 0o600
            assert _mode(db.with_name("x.sqlite-wal")) == 0o600
            assert _mode(db.with_name("x.sqlite-shm")) == 0o600
        assert _mode(db.parent) == 0o700
    finally:
        os.umask(old)


def test_secure_data_dir_leaves_links_and_foreign_files_alone(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir()
    (data / "postmeter.sqlite").symlink_to(outside)
    (data / "dbos.sqlite-wal").write_text("")
    (data / "dbos.sqlite-wal").chmod(0o664)
    (data / "demo").mkdir(mode=0o755)
    (data / "demo" / "sandbox.json").write_text("{}")
    (data / "demo" / "sandbox.json").chmod(0o644)
    secure_data_dir(data)
    assert _mode(outside) == 0o644  # the link is not followed
    assert _mode(data / "dbos.sqlite-wal") == 0o600
    assert _mode(data / "demo") == 0o700
    assert _mode(data / "demo" / "sandbox.json") == 0o600


def test_ensure_private_file_keeps_content_and_tightens(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("secret")
    path.chmod(0o640)
    ensure_private_file(path)
    assert path.read_text() == "secret"
    assert _mode(path) == 0o600


def test_the_key_file_is_among_the_files_tightened() -> None:
    assert KEY_FILE_NAME in OWN_FILES


def test_with_postgresql_a_data_dir_without_postmeter_files_is_left_alone(tmp_path: Path) -> None:
    from app.core.files import secure_storage
    from tests.conftest import make_settings

    other = tmp_path / "data"
    other.mkdir()
    other.chmod(0o755)
    pg = make_settings(other, "postgresql://u@db/pm")
    secure_storage(pg)
    assert _mode(other) == 0o755
    (other / "postmeter.sqlite").touch()  # an embedded run left its database there
    secure_storage(pg)
    assert _mode(other) == 0o700
    absent = make_settings(tmp_path / "absent", "postgresql://u@db/pm")
    secure_storage(absent)
    assert not (tmp_path / "absent").exists()
