"""Listening sockets bound before anything starts (the sandbox, the demo, `postmeter serve`).

Binding first means a taken port fails at once with one clear line, before a banner is printed
or background work is started, and that no other process can answer in our place. This module
imports nothing of the product or the sandbox, so the CLI shares it with the sandbox.
"""

from __future__ import annotations

import errno
import socket

# uvicorn's default backlog (it calls listen() again with its own; that only resizes it).
LISTEN_BACKLOG = 2048


class PortUnavailable(OSError):
    """An address cannot be bound (in use, or not an address of this host)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, bound before anything is printed or started, so a
    taken port fails at once with one clear line (``PortUnavailable``).

    It listens at once, too: on Linux two sockets with SO_REUSEADDR may both bind one port
    while neither listens, so a second process would pass the bind and fail only later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says TCP. Left on, a reply written in two parts (head, then
    # body) waited for the client's delayed ACK: 40 ms per request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock
