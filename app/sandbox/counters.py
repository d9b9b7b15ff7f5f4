"""Call counters for tests and benchmarks (what was called, with which token, how it ended)."""

from __future__ import annotations

from typing import Any


class Counters:
    __slots__ = (
        "by_app",
        "by_endpoint",
        "by_status",
        "by_token",
        "errors_by_code",
        "faults",
        "posts_created",
        "requests",
        "throttled",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_endpoint: dict[str, int] = {}
        self.by_token: dict[str, int] = {}
        self.by_app: dict[str, int] = {}
        self.by_status: dict[str, int] = {}
        self.errors_by_code: dict[str, int] = {}
        self.posts_created: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.throttled: dict[str, int] = {}

    def record(self, endpoint: str, token: str | None, app_id: str | None, status: int) -> None:
        """Count one emulated call (a batch item counts as one call)."""
        self.requests += 1
        d = self.by_endpoint
        d[endpoint] = d.get(endpoint, 0) + 1
        if token:
            d = self.by_token
            d[token] = d.get(token, 0) + 1
        if app_id:
            d = self.by_app
            d[app_id] = d.get(app_id, 0) + 1
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1

    def bump(self, table: str, key: str, n: int = 1) -> None:
        d: dict[str, int] = getattr(self, table)
        d[key] = d.get(key, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_endpoint": dict(self.by_endpoint),
            "by_token": dict(self.by_token),
            "by_app": dict(self.by_app),
            "by_status": dict(self.by_status),
            "errors_by_code": dict(self.errors_by_code),
            "posts_created": dict(self.posts_created),
            "faults": dict(self.faults),
            "throttled": dict(self.throttled),
        }
