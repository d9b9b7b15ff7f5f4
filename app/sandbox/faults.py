"""Fault injection: per-endpoint rules that answer 429/5xx, slow down, drop or garble responses,
or (``batch_null``) answer ``null`` for some items of a Graph batch, as Graph does for
sub-requests it did not get to run."""

from __future__ import annotations

import fnmatch
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import httpx

FAULT_KINDS = ("429", "5xx", "slow", "drop", "malformed", "batch_null")
BATCH_ITEM_KINDS = frozenset({"batch_null"})  # applied per batch item, not per HTTP request


class ConnectionDropped(httpx.RemoteProtocolError):  # noqa: N818 - what the client sees
    """Raised by the fault layer after a partial response: the server closes the connection.

    Over a socket the client sees a broken connection; in-process (``httpx.ASGITransport``)
    this exception reaches the client itself, so it is the transport error httpx raises for a
    peer that closed the connection mid-reply.
    """


@dataclass(slots=True)
class FaultRule:
    """One rule. ``endpoint`` is a glob on the request path (``*/insights``, ``/rest/*``)."""

    id: int
    endpoint: str
    kind: str
    rate: float = 1.0
    latency_ms: int = 0
    status: int = 503
    method: str | None = None
    platform: str | None = None  # "meta" | "linkedin" | None (both)
    remaining: int | None = None  # fire at most this many more times
    seed: int | None = None
    fired: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        if self.kind == "5xx" and not 500 <= self.status <= 599:
            raise ValueError("5xx faults need a status within 500..599")
        self._regex = re.compile(fnmatch.translate(self.endpoint))
        # A seeded rule fires on the same calls every run; unseeded rules use OS entropy.
        self._rng = random.Random(self.seed)  # noqa: S311 - not crypto

    def matches(self, method: str, path: str, platform: str) -> bool:
        if self.platform is not None and self.platform != platform:
            return False
        if self.method is not None and self.method != method:
            return False
        return self._regex.match(path) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "rate": self.rate,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "method": self.method,
            "platform": self.platform,
            "remaining": self.remaining,
            "seed": self.seed,
            "fired": self.fired,
        }


class _Rule(Protocol):
    id: int
    rate: float
    remaining: int | None
    fired: int
    _rng: random.Random


R = TypeVar("R", bound=_Rule)


class RuleBook(Generic[R]):
    """Numbered rules, checked in order: rate draws (seeded per rule) and "next N" counts."""

    __slots__ = ("_make", "_next_id", "rules")

    def __init__(self, make: Callable[..., R]) -> None:
        self._make = make
        self.rules: list[R] = []
        self._next_id = 1

    def add(self, **kwargs: Any) -> R:
        rule = self._make(id=self._next_id, **kwargs)
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def clear(self, rule_id: int | None = None) -> int:
        before = len(self.rules)
        self.rules = [] if rule_id is None else [r for r in self.rules if r.id != rule_id]
        return before - len(self.rules)

    @staticmethod
    def first_firing(candidates: Iterable[R]) -> R | None:
        """The first of ``candidates`` (rules that match) whose draw fires; it is counted."""
        for rule in candidates:
            if rule.remaining == 0:
                continue
            if rule.rate < 1.0 and rule._rng.random() >= rule.rate:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            rule.fired += 1
            return rule
        return None


class FaultInjector(RuleBook[FaultRule]):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(FaultRule)

    def pick(self, method: str, path: str, platform: str) -> FaultRule | None:
        """The first matching request-level rule that fires for this request, if any."""
        return self._fire(method, path, platform, item_level=False)

    def skips_batch_item(self, path: str) -> bool:
        """Whether a ``batch_null`` rule leaves this batch item unrun (``rate`` per item,
        ``remaining`` counts items)."""
        return self.rules != [] and self._fire("POST", path, "meta", item_level=True) is not None

    def _fire(self, method: str, path: str, platform: str, *, item_level: bool) -> FaultRule | None:
        return self.first_firing(
            rule
            for rule in self.rules
            if (rule.kind in BATCH_ITEM_KINDS) == item_level
            and rule.matches(method, path, platform)
        )
