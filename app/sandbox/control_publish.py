"""Control API for publishing: the posts created per target, publishing faults, and media
files for clients that fetch media before uploading it (LinkedIn takes bytes, not URLs)."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.sandbox.control_base import ControlError, Ctl, endpoint
from app.sandbox.entities import Published
from app.sandbox.publish_faults import account_id
from app.sandbox.state import SandboxState

MAX_MEDIA_BYTES = 64 * 1024 * 1024


def _record(state: SandboxState, rec: Published) -> dict[str, Any]:
    post = state.posts.get(rec.post_id)
    return {
        "post_id": rec.post_id,
        "platform": rec.platform,
        "owner_id": rec.owner_id,
        "text": rec.text,
        "link": rec.link,
        "media": list(rec.media),
        "endpoint": rec.endpoint,
        "created_at": rec.created_at,
        "deleted": post is None or post.deleted,
    }


def published_report(
    state: SandboxState,
    *,
    platform: str | None = None,
    owner_id: str | None = None,
    marker: str | None = None,
    since: float | None = None,
) -> dict[str, Any]:
    """Posts created through the publishing endpoints, grouped per target.

    A target is (platform, account, key): the key is the exact text, or — with ``marker``, a
    regular expression — its first group (or whole match) in the text; posts whose text has
    no marker are counted in ``unmarked``. ``duplicates`` is the number of posts beyond the
    first in every group.
    """
    try:
        pattern = re.compile(marker) if marker else None
    except re.error as exc:
        raise ControlError(400, f"marker is not a regular expression: {exc}") from None
    owner = account_id(owner_id) if owner_id else None
    groups: dict[tuple[str, str, str], list[str]] = {}
    records = []
    unmarked = 0
    for rec in state.published:
        if (platform and rec.platform != platform) or (owner and rec.owner_id != owner):
            continue
        if since is not None and rec.created_at < since:
            continue
        records.append(_record(state, rec))
        key = rec.text
        if pattern is not None:
            found = pattern.search(rec.text)
            if found is None:
                unmarked += 1
                continue
            key = found.group(1) if pattern.groups else found.group(0)
        groups.setdefault((rec.platform, rec.owner_id, key), []).append(rec.post_id)
    targets = [
        {"platform": p, "owner_id": o, "key": k, "count": len(ids), "post_ids": ids}
        for (p, o, k), ids in groups.items()
    ]
    return {
        "total": len(records),
        "duplicates": sum(len(ids) - 1 for ids in groups.values()),
        "unmarked": unmarked,
        "targets": targets,
        "posts": records,
    }


@endpoint
async def published(ctl: Ctl) -> Any:
    if ctl.request.method == "DELETE":
        removed = len(ctl.state.published)
        ctl.state.published.clear()
        return {"removed": removed}
    query = ctl.request.query_params
    since = query.get("since")
    try:
        since_value = float(since) if since else None
    except ValueError:
        raise ControlError(400, "since must be epoch seconds") from None
    return published_report(
        ctl.state,
        platform=query.get("platform"),
        owner_id=query.get("owner_id"),
        marker=query.get("marker"),
        since=since_value,
    )


@endpoint
async def publish_faults(ctl: Ctl) -> Any:
    faults = ctl.state.publish_faults
    if ctl.request.method == "POST":
        rule = faults.add(
            kind=ctl.field("kind", str, required=True),
            platform=ctl.field("platform", str),
            account=ctl.field("account", str),
            rate=float(ctl.field("rate", (int, float), 1.0)),
            remaining=ctl.field("count", int),
            seed=ctl.field("seed", int),
            mode=ctl.field("mode", str, "5xx"),
            status=ctl.field("status", int, 500),
            delay_ms=ctl.field("delay_ms", int, 0),
            code=ctl.field("code", int),
            subcode=ctl.field("subcode", int),
            message=ctl.field("message", str),
            url=ctl.field("url", str),
        )
        return rule.to_dict()
    if ctl.request.method == "DELETE":
        rule_id = ctl.request.path_params.get("rule_id")
        return {"removed": faults.clear(int(rule_id) if rule_id else None)}
    return {"faults": [rule.to_dict() for rule in faults.rules]}


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _jpeg(size: int) -> bytes:
    """JPEG markers (SOI, a comment padding to ``size``, EOI): enough for type sniffing."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    tail = b"\xff\xd9"
    pad = max(0, size - len(head) - len(tail) - 4)
    comments = b""
    while pad > 0:
        part = min(pad, 65_533)
        comments += b"\xff\xfe" + struct.pack(">H", part + 2) + b"\x00" * part
        pad -= part
    return head + comments + tail


def _mp4(size: int) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    body = max(0, size - len(ftyp) - 8)
    return ftyp + struct.pack(">I", body + 8) + b"mdat" + b"\x00" * body


_MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "mp4": "video/mp4"}


async def media_file(request: Request) -> Response:
    """``GET /_sandbox/media/{name}.{png|jpg|jpeg|mp4}[?bytes=N]``: a file of that type."""
    name = request.path_params["name"]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in _MEDIA:
        return JSONResponse({"error": "media names end in .png, .jpg, .jpeg or .mp4"}, 404)
    try:
        size = int(request.query_params.get("bytes", "2048" if ext != "mp4" else "65536"))
    except ValueError:
        return JSONResponse({"error": "bytes must be an integer"}, 400)
    if not 0 < size <= MAX_MEDIA_BYTES:
        return JSONResponse({"error": f"bytes must be within 1..{MAX_MEDIA_BYTES}"}, 400)
    data = _png() if ext == "png" else _jpeg(size) if ext != "mp4" else _mp4(size)
    return Response(data, 200, media_type=_MEDIA[ext])
