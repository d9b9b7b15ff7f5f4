"""Fetching media URLs for upload, without letting a URL reach the network we run in.

A schedule's media URLs come from API callers; LinkedIn needs the bytes, so Postmeter downloads
them. A URL naming (or resolving to, or redirecting to) a private, loopback or link-local
address would make Postmeter read internal services (cloud metadata at 169.254.169.254, an
admin port on 127.0.0.1) and post what it got. So, unless ``MEDIA_ALLOW_PRIVATE_URLS``:

- the connection layer itself (an httpcore network backend) resolves the host, refuses it if
  *any* address is not public, and connects to the addresses it checked — there is no second
  lookup a rebinding DNS server could answer differently;
- redirects are followed by hand, each hop through the same check (and http/https only);
- no proxy from the environment (the check would then see only the proxy's address).

Bodies are streamed with a byte cap per kind (``MEDIA_MAX_IMAGE_BYTES`` / ``_VIDEO_BYTES``),
the Content-Type is checked before the body is read, and the whole download has a deadline.

Library: none fits. ``safehttpx`` validates with Google's public DNS (no internal resolver,
no streaming); ``httpx-secure`` opens a probe TCP connection to the unchecked address first
and checks one address only; ``advocate`` is for ``requests``. Checking in the network backend
is small and leaves TLS (certificate checked against the URL's host name) to httpx/httpcore.

Meta (Facebook, Instagram) downloads media itself; Postmeter does not fetch those URLs. Meta's
servers, not ours, make those requests, its container status / error reply names a bad file
(Instagram 2207052, 2207026, Facebook 1366046) before anything is published, and downloading a
video only to check it would double the transfer. Those URLs get the create-time check of
:func:`url_address_problem` only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Literal
from urllib.parse import urlsplit

import httpcore
import httpx

from app.integrations.errors import MediaError, Provider, TransientError

MediaKind = Literal["image", "video"]
Resolver = Callable[[str, int], Awaitable[list[str]]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SPOOL_IN_MEMORY = 16 * 1024 * 1024  # bigger downloads go to a temporary file
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class RefusedAddressError(Exception):
    """A connection to a non-public address was refused (never leaves this module)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host = host
        self.address = address


def is_public_address(address: str) -> bool:
    """Whether `address` (an IP literal) is globally routable: not private, loopback,
    link-local, multicast, reserved or unspecified (IPv4-mapped IPv6 judged by its IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_address_problem(url: str, *, allow_private: bool) -> str | None:
    """A cheap syntactic check of a URL given at create time (no DNS): what is wrong, or None.

    Refuses schemes other than http/https, and (unless `allow_private`) hosts that are a
    non-public IP literal or a local name. Names are resolved, and checked again, at fetch time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs are accepted"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if allow_private:
        return None
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is a local name"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a name: resolved and checked when the media is fetched
    if not is_public_address(host):
        return f"{host} is not a public address"
    return None


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to public addresses it resolved itself.

    `resolve` and `inner` are the seams tests use (a name that resolves to a public address,
    served locally); production uses the system resolver and httpcore's anyio backend.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve or _system_resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            for address in addresses:
                if not is_public_address(address):
                    raise RefusedAddressError(host, address)
        failure: Exception | None = None
        for address in addresses:  # the checked addresses, never the name again
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ARG002 - the backend interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddressError(path, "a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, exception mapping) over a guarded pool."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx builds its pool without a network-backend parameter; the SSRF tests fail if
        # this replacement ever stops being the pool that requests go through.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def make_media_client(
    *,
    allow_private: bool,
    timeout_s: float = 30.0,
    max_connections: int = 10,
    resolve: Resolver | None = None,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The pooled client media downloads go through (no redirects, no proxy, guarded)."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    backend = GuardedBackend(allow_private=allow_private, resolve=resolve, inner=inner)
    return httpx.AsyncClient(
        transport=_GuardedTransport(backend, limits),
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "Postmeter media fetcher"},
    )


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What a download may be: the byte cap per kind, redirects, and the whole deadline."""

    max_image_bytes: int
    max_video_bytes: int
    max_redirects: int = 5
    timeout_s: float = 120.0

    def cap(self, kind: MediaKind) -> int:
        return self.max_image_bytes if kind == "image" else self.max_video_bytes


class FetchedMedia:
    """A downloaded file (in memory, or a temporary file past 16 MiB) and what it is."""

    def __init__(self, *, url: str, content_type: str, kind: MediaKind, body: IO[bytes]) -> None:
        self.url = url
        self.content_type = content_type
        self.kind: MediaKind = kind
        self._body = body
        self.size = body.seek(0, 2)

    def read(self, first: int = 0, last: int | None = None) -> bytes:
        """Bytes ``first..last`` inclusive (the whole file by default)."""
        end = self.size - 1 if last is None else min(last, self.size - 1)
        self._body.seek(first)
        return self._body.read(max(end - first + 1, 0))

    def close(self) -> None:
        self._body.close()


class MediaFetcher:
    """Downloads media URLs through a guarded client, within `MediaLimits`."""

    def __init__(self, http: httpx.AsyncClient, limits: MediaLimits) -> None:
        self._http = http
        self.limits = limits

    @asynccontextmanager
    async def fetch(
        self, url: str, *, accept: Mapping[str, MediaKind], provider: Provider
    ) -> AsyncIterator[FetchedMedia]:
        """Download `url`; `accept` maps the Content-Types the platform takes to their kind.

        Raises `MediaError` (refused address, wrong type, too big, a 4xx, too many redirects)
        or `TransientError` (unreachable, timed out, a 5xx from the media host).
        """
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                final_url, content_type, kind = await self._download(url, accept, body, provider)
        except TimeoutError:
            body.close()
            raise TransientError(
                f"media download took longer than {self.limits.timeout_s:g} s", provider=provider
            ) from None
        except BaseException:
            body.close()
            raise
        media = FetchedMedia(url=final_url, content_type=content_type, kind=kind, body=body)
        try:
            yield media
        finally:
            media.close()

    async def _download(
        self, url: str, accept: Mapping[str, MediaKind], body: IO[bytes], provider: Provider
    ) -> tuple[str, str, MediaKind]:
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            if problem := url_address_problem(current, allow_private=True):
                raise MediaError(f"media URL refused: {problem}", provider=provider)
            try:
                async with self._http.stream("GET", current) as response:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    kind, content_type = _check_reply(response, accept, provider)
                    await _stream_capped(response, body, self.limits.cap(kind), provider)
                    return current, content_type, kind
            except RefusedAddressError as exc:
                raise MediaError(f"media URL refused: {exc}", provider=provider) from None
            except httpx.TransportError as exc:
                raise TransientError(
                    f"media download failed ({type(exc).__name__})", provider=provider
                ) from None
        raise MediaError(
            f"media URL redirected more than {self.limits.max_redirects} times", provider=provider
        )


def _check_reply(
    response: httpx.Response, accept: Mapping[str, MediaKind], provider: Provider
) -> tuple[MediaKind, str]:
    status = response.status_code
    if status >= 500 or status in (408, 429):
        raise TransientError(
            f"media host answered HTTP {status}", provider=provider, http_status=status
        )
    if status >= 300:
        raise MediaError(f"media URL answered HTTP {status}", provider=provider, http_status=status)
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    kind = accept.get(content_type)
    if kind is None:
        wanted = ", ".join(sorted(accept))
        raise MediaError(
            f"media type {content_type or 'unknown'} is not accepted (accepted: {wanted})",
            provider=provider,
        )
    return kind, content_type


async def _stream_capped(
    response: httpx.Response, body: IO[bytes], cap: int, provider: Provider
) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise MediaError(f"media file is larger than {cap} bytes", provider=provider)
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > cap:
            raise MediaError(f"media file is larger than {cap} bytes", provider=provider)
        body.write(chunk)
    if received == 0:
        raise MediaError("media file is empty", provider=provider)
