"""File modes of what Postmeter keeps on disk: private to the user that runs it.

DATA_DIR holds the embedded database (with its WAL and shared-memory files), DBOS's state and,
without TOKEN_ENCRYPTION_KEYS, the key that decrypts every stored platform token. The folder is
0700 and every file in it 0600: created so (the process umask is 0o077 from the CLI's entry on,
and the database files are created 0600 before SQLite opens them: SQLite gives a database's
-wal, -shm and -journal files the mode of the database file), and tightened at start-up when an
older version (or a copy) left them readable by others, with one log line per path fixed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog

from app.core.config import Settings

log = structlog.get_logger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
# A SQLite database's companions (same folder, same name plus these).
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def use_private_umask() -> None:
    """Files and folders this process creates from now on are its user's alone."""
    os.umask(PRIVATE_UMASK)


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        return  # not ours to change: the operator linked it there
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode == 0:
        return
    try:
        path.chmod(current & mode)
    except OSError as exc:  # not our file (another owner): say so, do not stop
        log.warning("files.mode_not_fixed", path=str(path), mode=oct(current), error=exc.strerror)
        return
    log.warning("files.mode_fixed", path=str(path), was=oct(current), now=oct(current & mode))


def ensure_private_dir(path: Path) -> None:
    """`path` exists and only its owner can enter it (0700)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)


def ensure_private_file(path: Path) -> None:
    """`path` exists (created empty when missing) and only its owner can read it (0600)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    _tighten(path, PRIVATE_FILE_MODE)


def prepare_sqlite_file(path: Path) -> None:
    """A SQLite database file created 0600 before SQLite opens it (its -wal and -shm files
    then get that mode too), and its companions left by older runs tightened."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    ensure_private_file(path)
    for suffix in SQLITE_SUFFIXES[1:]:
        _tighten(path.with_name(path.name + suffix), PRIVATE_FILE_MODE)


# What Postmeter keeps in DATA_DIR (and in the demo's sub-folder): only these are tightened,
# so a DATA_DIR pointed at a folder holding other files leaves those alone.
OWN_FILES = (
    "postmeter.sqlite*",
    "dbos.sqlite*",
    "token_encryption.key",
    "worker-*.lock",
    "sandbox.json*",
)
OWN_SUBDIRS = ("demo",)


def secure_data_dir(data_dir: Path) -> None:
    """DATA_DIR 0700 and every file Postmeter keeps in it (and in the demo's folder) 0600."""
    ensure_private_dir(data_dir)
    for folder in (data_dir, *(data_dir / sub for sub in OWN_SUBDIRS)):
        if folder is not data_dir:
            if not folder.is_dir():
                continue
            _tighten(folder, PRIVATE_DIR_MODE)
        for pattern in OWN_FILES:
            for path in folder.glob(pattern):
                _tighten(path, PRIVATE_FILE_MODE)


def secure_storage(settings: Settings) -> None:
    """At start-up, on the embedded default: DATA_DIR and Postmeter's files in it private,
    and a SQLite database kept elsewhere (DATABASE_URL) created or tightened 0600 too. With
    PostgreSQL DATA_DIR holds nothing of ours unless an embedded run left files there: only
    then is it tightened (a `data` folder of something else is left alone), never created."""
    if settings.is_sqlite:
        secure_data_dir(settings.DATA_DIR)
        database = settings.database_url.database
        if database and database != ":memory:":
            prepare_sqlite_file(Path(database))
    elif settings.DATA_DIR.is_dir() and any(
        any(settings.DATA_DIR.glob(pattern)) for pattern in OWN_FILES
    ):
        secure_data_dir(settings.DATA_DIR)
