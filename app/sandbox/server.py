"""The sandbox ASGI app (Starlette) and ``serve()`` (uvicorn, httptools, uvloop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.sandbox import persistence, seeds
from app.sandbox.clock import SandboxClock
from app.sandbox.control import control_routes
from app.sandbox.entities import META
from app.sandbox.fault_layer import FaultLayer
from app.sandbox.faults import ConnectionDropped
from app.sandbox.linkedin_http import oauth_endpoint, rest_endpoint, upload_endpoint
from app.sandbox.meta_http import graph_endpoint
from app.sandbox.ports import bind_socket
from app.sandbox.state import SandboxState
from app.sandbox.world import build_world, client_env

METHODS = ["GET", "POST", "DELETE"]
log = logging.getLogger("app.sandbox")


class StateSaver:
    """Saves the world when it changed (checked every ``interval`` s) and on shutdown."""

    def __init__(self, state: SandboxState, path: str | Path, interval: float = 2.0) -> None:
        self.state = state
        self.path = Path(path)
        self.interval = interval
        self.saved_at_change = -1

    def save_now(self) -> None:
        persistence.save_file(self.state, self.path)
        self.saved_at_change = self.state.changes

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.state.changes != self.saved_at_change:
                try:
                    self.save_now()
                except OSError:
                    log.exception("sandbox.state.save_failed")


def create_sandbox_app(
    state: SandboxState | None = None,
    *,
    seed: str | None = None,
    app_secret: str | None = None,
    state_file: str | None = None,
    clock_speed: float | None = None,
) -> Starlette:
    """Build the sandbox app.

    ``seed="demo"`` builds the demo world (unless ``state_file`` existed and was loaded);
    ``app_secret`` is the secret of the first Meta app, so ``appsecret_proof`` is checked
    against it; ``state_file`` loads the world on start and saves it on change and shutdown.
    """
    if seed not in (None, "demo"):
        raise ValueError("seed must be 'demo' or None")
    if state is None:
        state = SandboxState(
            world_seed=seed or "sandbox", clock=SandboxClock(speed=clock_speed or 1.0)
        )
    loaded = False
    if state_file is not None:
        loaded = persistence.load_file(state, state_file, clock_speed=clock_speed)
    if not loaded:
        if seed == "demo":
            seeds.build_demo(state, app_secret=app_secret)
        elif app_secret is not None:
            state.create_app(META, secret=app_secret)
    saver = StateSaver(state, state_file) if state_file is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(saver.run()) if saver is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            if saver is not None:
                saver.save_now()

    routes = [
        control_routes(),
        Route("/rest/{path:path}", rest_endpoint, methods=METHODS),
        Route("/dms-uploads/{key}", upload_endpoint, methods=["PUT"]),
        Route("/oauth/v2/{path:path}", oauth_endpoint, methods=["GET", "POST"]),
        Route("/{path:path}", graph_endpoint, methods=METHODS),
    ]
    app = Starlette(
        routes=routes, middleware=[Middleware(FaultLayer, state=state)], lifespan=lifespan
    )
    app.state.sandbox = state
    app.state.saver = saver
    return app


class _DroppedConnectionFilter(logging.Filter):
    """Injected dropped connections are intended; keep them out of the error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def describe_world(state: SandboxState, base_url: str) -> str:
    """The start-up banner: where to point Postmeter, and the demo's ids and tokens."""
    world = build_world(state, base_url)
    env = client_env(world)
    lines = [
        f"Postmeter platform sandbox on {base_url}",
        f"  control API: {base_url}/_sandbox/world, posts: {base_url}/_sandbox/posts",
        "  Postmeter settings (`postmeter sandbox --print-env` prints them again):",
        *(f"    {name}={value}" for name, value in env.items()),
    ]
    demo: dict[str, Any] = dict(state.demo)
    if demo:
        lines += [
            f"  Meta user       id={demo['meta_user_id']} token={demo['meta_user_token']}",
            f"  Facebook page   id={demo['page_id']} token={demo['page_token']}",
            f"  Instagram       ig_user_id={demo['ig_user_id']}",
            f"  LinkedIn org    {demo['org_urn']} admin token={demo['org_admin_token']}",
            f"  LinkedIn member {demo['member_urn']} token={demo['member_token']}",
            "  Connect these accounts and track their posts in a workspace:",
            f"    postmeter sandbox --port {urlsplit(base_url).port} --connect WORKSPACE_ID",
        ]
    return "\n".join(lines) + "\n"


def serve(
    host: str = "127.0.0.1",
    port: int = 9100,
    *,
    seed: str | None = None,
    state_file: str | None = None,
    clock_speed: float = 1.0,
    quiet: bool = False,
    sock: socket.socket | None = None,
) -> None:
    """Run the sandbox with uvicorn (httptools, uvloop, one worker, no access log).

    ``sock`` is a socket already bound (by a parent process, say); without it ``host:port`` is
    bound first, so ``PortUnavailable`` is raised before the banner is printed.
    """
    if sock is None:
        sock = bind_socket(host, port)
    host, port = sock.getsockname()[:2]
    state = SandboxState(world_seed=seed or "sandbox", clock=SandboxClock(speed=clock_speed))
    app = create_sandbox_app(state, seed=seed, state_file=state_file, clock_speed=clock_speed)
    logging.getLogger("uvicorn.error").addFilter(_DroppedConnectionFilter())
    if not quiet:
        sys.stdout.write(describe_world(app.state.sandbox, f"http://{_url_host(host)}:{port}"))
        sys.stdout.flush()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning" if quiet else "info",
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[sock])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
