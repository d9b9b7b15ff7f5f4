"""JSON on the hot path: orjson, with the standard library as the fallback.

Parsing platform replies and serializing the stored raw payloads was a quarter of the
poller's CPU with the `json` module (py-spy, docs/BENCHMARKS.md); orjson does the same work
several times faster. Two differences are handled here: `dumps` falls back to `json` for what
orjson refuses (integers beyond 64 bits, non-string keys), and orjson's `JSONDecodeError` is a
`ValueError`, so callers catch the same exception as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse JSON text or UTF-8 bytes (raises ValueError on malformed input)."""
    return orjson.loads(data)


def loads_or(data: str | bytes | bytearray | memoryview, default: Any = None) -> Any:
    """Parse JSON like :func:`loads`, returning ``default`` when the input is malformed."""
    try:
        return orjson.loads(data)
    except ValueError:
        return default


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def dumps(value: Any) -> str:
    """Compact JSON text (the database's JSON column serializer)."""
    return dumps_bytes(value).decode()
