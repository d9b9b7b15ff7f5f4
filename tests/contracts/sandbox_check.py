"""One structural check of a sandbox reply against a real one (status, headers, body)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.contracts.platform_replies import PlatformReply
from tests.contracts.shape import shape_diff

Part = Callable[[Any], Any]


def _identity(body: Any) -> Any:
    return body


def _header_json(name: str, value: str) -> Any:
    parsed = json.loads(value)
    if name.lower() == "x-business-use-case-usage" and isinstance(parsed, dict) and parsed:
        return next(iter(parsed.values()))  # keyed by the business object's id
    return parsed


def reply_diff(
    fixture: PlatformReply,
    response: httpx.Response,
    *,
    extra_keys: bool = False,
    part: Part = _identity,
    sandbox_part: Part | None = None,
) -> list[str]:
    """Differences in structure between the sandbox's ``response`` and the real ``fixture``.

    ``part`` picks what to compare from both bodies (``sandbox_part`` from the sandbox's, when
    it needs a different path, e.g. reordering batch items); ``extra_keys`` accepts keys the
    fixture lacks (captures that selected subfields).
    """
    out: list[str] = []
    if response.status_code != fixture.status and not fixture.source.status_uncertain:
        out.append(f"status: expected {fixture.status}, got {response.status_code}")
    for name, value in fixture.headers.items():
        got = response.headers.get(name)
        if got is None:
            out.append(f"header {name}: missing")
        elif value.startswith("{"):
            want, have = _header_json(name, value), _header_json(name, got)
            out.extend(f"header {name} {d}" for d in shape_diff(want, have, extra_keys=True))
    expected = part(fixture.copy_body())
    actual = (sandbox_part or part)(response.json())
    out.extend(shape_diff(expected, actual, extra_keys=extra_keys))
    return out
