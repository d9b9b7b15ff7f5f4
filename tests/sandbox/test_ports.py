"""`bind_socket`: the listening socket `serve`, the demo and the sandbox hand to uvicorn."""

from __future__ import annotations

import asyncio
import socket

import pytest

from app.sandbox.ports import PortUnavailable, bind_socket


async def test_connections_it_accepts_send_without_nagle() -> None:
    """A reply written in two parts (head, then body) must leave at once: with Nagle's
    algorithm on, the body waited for the client's delayed ACK (40 ms a request)."""
    listener = bind_socket("127.0.0.1", 0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listener)
    try:
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_a_taken_port_is_one_clear_error() -> None:
    with bind_socket("127.0.0.1", 0) as first:
        port = first.getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"127.0.0.1:{port}: already in use"):
            bind_socket("127.0.0.1", port)
