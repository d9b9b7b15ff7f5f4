"""Media downloads: SSRF refusals (literal, resolved, redirected), caps, types, and the
checked address being the one connected to (against a real local HTTP server)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import pytest

from app.integrations.errors import MediaError, TransientError
from app.publishers.media import (
    MediaFetcher,
    MediaKind,
    MediaLimits,
    Resolver,
    is_public_address,
    make_media_client,
    url_address_problem,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 200
IMAGES: dict[str, MediaKind] = {"image/png": "image", "image/jpeg": "image"}
PUBLIC_IP = "93.184.216.34"  # a public address; tests route it to the local server


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the fetcher hangs up on an over-size body on purpose


class _Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append(self.path)
                port = owner.port
                routes: dict[str, tuple[int, dict[str, str], bytes]] = {
                    "/img.png": (200, {"Content-Type": "image/png"}, PNG),
                    "/page.html": (200, {"Content-Type": "text/html"}, b"<html></html>"),
                    "/big.png": (200, {"Content-Type": "image/png"}, b"x" * 5000),
                    "/to-local": (302, {"Location": f"http://127.0.0.1:{port}/img.png"}, b""),
                    "/to-relative": (302, {"Location": "/img.png"}, b""),
                    "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
                    "/loop": (302, {"Location": "/loop"}, b""),
                    "/missing": (404, {"Content-Type": "text/plain"}, b"no"),
                    "/down": (503, {"Content-Type": "text/plain"}, b"later"),
                }
                if self.path == "/chunked-big.png":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for _ in range(10):
                        self.wfile.write(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                status, headers, body = routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


class _RouteToLoopback(httpcore.AnyIOBackend):
    """Connects a "public" address to the local server; records what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        target = "127.0.0.1" if host == PUBLIC_IP else host
        return await super().connect_tcp(target, port, timeout, local_address, socket_options)


def _resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [host])  # literal addresses resolve to themselves

    return resolve


def _fetcher(*, allow_private: bool, cap: int = 1000, **client_kw: object) -> MediaFetcher:
    http = make_media_client(allow_private=allow_private, **client_kw)  # type: ignore[arg-type]
    return MediaFetcher(http, MediaLimits(max_image_bytes=cap, max_video_bytes=cap * 10))


async def _fetch(fetcher: MediaFetcher, url: str) -> bytes:
    async with fetcher.fetch(url, accept=IMAGES, provider="linkedin") as media:
        return media.read()


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "169.254.169.254", "10.1.2.3", "192.168.0.1", "172.16.5.5",
     "0.0.0.0", "::ffff:127.0.0.1", "fe80::1", "fc00::1", "224.0.0.1", "100.64.0.1"],  # noqa: S104
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1/a.png", "not a public address"),
        ("http://[::1]/a.png", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://10.0.0.8/a.png", "not a public address"),
        ("http://localhost:8080/a.png", "local name"),
        ("http://media.localhost/a.png", "local name"),
        ("ftp://example.com/a.png", "http and https"),
    ],
)
def test_create_time_check_names_the_problem(url: str, problem: str) -> None:
    found = url_address_problem(url, allow_private=False)
    assert found is not None
    assert problem in found


def test_create_time_check_passes_names_and_allows_private_when_set() -> None:
    assert url_address_problem("https://cdn.example.com/a.png", allow_private=False) is None
    assert url_address_problem("http://127.0.0.1:9/a.png", allow_private=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/img.png",
        "http://[::1]:{port}/img.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/img.png",
        "http://localhost:{port}/img.png",  # a name resolving to loopback
    ],
)
async def test_private_targets_are_refused_before_connecting(server: _Server, url: str) -> None:
    fetcher = _fetcher(allow_private=False)
    with pytest.raises(MediaError, match="not a public address"):
        await _fetch(fetcher, url.format(port=server.port))
    assert server.hits == []


async def test_a_name_with_any_private_address_is_refused(server: _Server) -> None:
    inner = _RouteToLoopback()
    fetcher = _fetcher(
        allow_private=False,
        resolve=_resolver({"mixed.example": [PUBLIC_IP, "10.0.0.7"]}),
        inner=inner,
    )
    with pytest.raises(MediaError, match="10.0.0.7"):
        await _fetch(fetcher, server.url("/img.png", host="mixed.example"))
    assert inner.asked == []
    assert server.hits == []


async def test_connects_to_the_checked_address_not_the_name(server: _Server) -> None:
    inner = _RouteToLoopback()
    fetcher = _fetcher(
        allow_private=False, resolve=_resolver({"cdn.example": [PUBLIC_IP]}), inner=inner
    )
    assert await _fetch(fetcher, server.url("/img.png", host="cdn.example")) == PNG
    assert inner.asked == [PUBLIC_IP]  # no second lookup a rebinding DNS could answer


async def test_a_redirect_to_loopback_is_refused(server: _Server) -> None:
    fetcher = _fetcher(
        allow_private=False,
        resolve=_resolver({"cdn.example": [PUBLIC_IP]}),
        inner=_RouteToLoopback(),
    )
    with pytest.raises(MediaError, match="not a public address"):
        await _fetch(fetcher, server.url("/to-local", host="cdn.example"))
    assert server.hits == ["/to-local"]  # the loopback target was never requested


async def test_a_redirect_to_another_scheme_is_refused(server: _Server) -> None:
    fetcher = _fetcher(allow_private=True)
    with pytest.raises(MediaError, match="http and https"):
        await _fetch(fetcher, server.url("/to-file"))


async def test_private_allowed_fetches_and_follows_redirects(server: _Server) -> None:
    fetcher = _fetcher(allow_private=True)
    async with fetcher.fetch(server.url("/to-relative"), accept=IMAGES, provider="linkedin") as m:
        assert (m.read(), m.content_type, m.kind, m.size) == (PNG, "image/png", "image", len(PNG))
        assert m.read(0, 7) == PNG[:8]
        assert m.url.endswith("/img.png")


async def test_too_many_redirects(server: _Server) -> None:
    with pytest.raises(MediaError, match="redirected more than"):
        await _fetch(_fetcher(allow_private=True), server.url("/loop"))


async def test_an_oversize_body_is_refused_by_its_length(server: _Server) -> None:
    with pytest.raises(MediaError, match="larger than 1000 bytes"):
        await _fetch(_fetcher(allow_private=True), server.url("/big.png"))


async def test_an_oversize_body_without_length_is_cut_off(server: _Server) -> None:
    with pytest.raises(MediaError, match="larger than 1000 bytes"):
        await _fetch(_fetcher(allow_private=True), server.url("/chunked-big.png"))


async def test_a_wrong_content_type_is_refused(server: _Server) -> None:
    with pytest.raises(MediaError, match="text/html is not accepted"):
        await _fetch(_fetcher(allow_private=True), server.url("/page.html"))


async def test_a_4xx_is_a_media_error_and_a_5xx_transient(server: _Server) -> None:
    fetcher = _fetcher(allow_private=True)
    with pytest.raises(MediaError, match="HTTP 404"):
        await _fetch(fetcher, server.url("/missing"))
    with pytest.raises(TransientError, match="HTTP 503"):
        await _fetch(fetcher, server.url("/down"))


async def test_an_unreachable_host_is_transient() -> None:
    fetcher = _fetcher(allow_private=True)
    with pytest.raises(TransientError, match="media download failed"):
        await _fetch(fetcher, "http://127.0.0.1:9/img.png")
