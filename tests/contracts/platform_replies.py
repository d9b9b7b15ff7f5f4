"""Typed access to the contract fixtures under ``tests/fixtures/platforms/``.

Each fixture is one reply a platform really sends (``status``, ``headers``, ``body``), with the
request it answers and its ``source``: where it comes from (documentation or a capture), and
what was adapted (tokens replaced, lists trimmed, values invented).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import httpx

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "platforms"
TOKEN_MARKER = "EAAFIXTURExTOKENxREPLACED"  # stands for the access token captures carried

SourceKind = Literal["documentation", "capture"]


@dataclass(frozen=True, slots=True)
class Source:
    kind: SourceKind
    where: str  # a URL or a repository (+ path)
    notes: str
    status_uncertain: bool = False


@dataclass(frozen=True, slots=True)
class PlatformReply:
    """One recorded reply; ``name`` is its path under ``tests/fixtures/platforms``, no suffix."""

    name: str
    source: Source
    request: dict[str, Any] | None
    status: int
    headers: dict[str, str]
    body: Any

    def response(self, **extra_headers: str) -> httpx.Response:
        """The reply as an ``httpx.Response`` (a fresh copy of the body every time)."""
        return httpx.Response(
            self.status, json=self.copy_body(), headers={**self.headers, **extra_headers}
        )

    def copy_body(self) -> Any:
        return json.loads(json.dumps(self.body))


def _source(raw: dict[str, Any], name: str) -> Source:
    kind = raw.get("kind")
    if kind not in ("documentation", "capture"):
        raise ValueError(f"{name}: source.kind must be documentation or capture")
    where = raw.get("url") or raw.get("repo")
    notes = raw.get("notes")
    if not isinstance(where, str) or not where or not isinstance(notes, str) or not notes:
        raise ValueError(f"{name}: a source names where it comes from (url/repo) and notes")
    return Source(cast(SourceKind, kind), where, notes, bool(raw.get("status_uncertain")))


@cache
def load(name: str) -> PlatformReply:
    """The fixture ``name`` (e.g. ``"facebook/post_counts"``); raises on a malformed file."""
    raw = json.loads((ROOT / f"{name}.json").read_text(encoding="utf-8"))
    status = raw.get("status")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"{name}: status must be an HTTP status")
    headers = raw.get("headers") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError(f"{name}: headers map names to strings")
    return PlatformReply(
        name, _source(raw.get("source") or {}, name), raw.get("request"), status, headers,
        raw.get("body"),
    )  # fmt: skip


def all_names() -> list[str]:
    """Every fixture's name, sorted."""
    return sorted(str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.rglob("*.json"))
