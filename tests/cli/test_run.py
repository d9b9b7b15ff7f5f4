"""`postmeter serve` as a real process bounds what it reads (issue 10, finding 1): a 50 MB
header, a 200 MB body without a key, and the same body streamed, are each answered after a
few megabytes at most (what the kernel's socket buffers take), and the server's memory stays
where it was."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_process import postmeter, read_until
from tests.conftest import free_port

MB = 1024 * 1024
# Loopback socket buffers hold a few MB; anything near the full size means it was read.
READ_AT_MOST = 16 * MB


@dataclass
class Sent:
    count: int
    reply: bytes


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def push(port: int, head: bytes, filler: int, tail: bytes = b"", *, chunked: bool = False) -> Sent:
    """Send `head`, then up to `filler` bytes (until the server stops taking them; framed as
    HTTP chunks when `chunked`), then `tail`; the first bytes of the reply."""
    sent = 0
    chunk = b"a" * 65536
    if chunked:
        chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            while sent < filler:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(tail)
        except OSError:  # reset or broken pipe: the server closed the connection
            pass
        try:
            reply = sock.recv(4096)
        except OSError:
            reply = b""
    return Sent(sent, reply)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_FORMAT": "json",
        "INSIGHTS_POLL_TICK_SECONDS": "3600",
    }
    proc = postmeter(env, "serve", "--port", str(port))
    try:
        await read_until(proc, "Application startup complete")
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.mark.slow
async def test_serve_stops_reading_what_it_will_not_take(served: tuple[int, int]) -> None:
    port, pid = served
    before = rss_mb(pid)
    started = time.monotonic()

    header = await asyncio.to_thread(
        push, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", 50 * MB, b"\r\n\r\n"
    )
    assert header.count < READ_AT_MOST
    assert header.reply.startswith(b"HTTP/1.1 400"), header.reply  # h11: the head is too long

    head = (
        b"POST /api/v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (200 * MB)
    )
    declared = await asyncio.to_thread(push, port, head, 200 * MB)
    assert declared.count < READ_AT_MOST
    assert declared.reply.startswith(b"HTTP/1.1 413"), declared.reply
    assert b"body_too_large" in declared.reply

    chunked = (
        b"POST /api/v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    streamed = await asyncio.to_thread(push, port, chunked, 200 * MB, chunked=True)
    assert streamed.count < READ_AT_MOST
    assert streamed.reply.startswith(b"HTTP/1.1 401"), streamed.reply

    assert time.monotonic() - started < 30
    assert rss_mb(pid) - before < 32  # the 200 MB bodies were never held
