"""`postmeter ...` as a real process for tests: its output captured, read line by line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def postmeter(env: dict[str, str], *args: str, umask: int | None = None) -> subprocess.Popen[bytes]:
    """`postmeter ARGS` (the console entry point, as installed), stdout and stderr together;
    `umask` sets the child's (the shell's usual 022, say) before it starts."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=None if umask is None else lambda: os.umask(umask),  # noqa: PLW1509
    )


async def read_until(proc: subprocess.Popen[bytes], text: str, timeout: float = 60) -> str:
    """Its output up to the first line containing `text` (fails if it ends or times out)."""
    assert proc.stdout is not None
    seen: list[str] = []

    def _read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            seen.append(raw.decode(errors="replace"))
            if text in seen[-1]:
                return
        raise AssertionError(f"{text!r} never came:\n{''.join(seen)[-3000:]}")

    await asyncio.wait_for(asyncio.to_thread(_read), timeout)
    return "".join(seen)


def kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    """A test's clean-up: a process the test did not stop is killed and reaped."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=30)
