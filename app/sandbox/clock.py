"""Virtual sandbox clock: starts at real time, runs at a configurable speed, can be advanced."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SandboxClock:
    """Sandbox time in epoch seconds.

    ``now()`` is ``anchor_virtual + (monotonic - anchor_real) * speed``. Advancing or
    changing the speed re-anchors, so sandbox time never jumps backwards.
    """

    __slots__ = ("_anchor_real", "_anchor_virtual", "_speed")

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self._anchor_real = time.monotonic()
        self._anchor_virtual = time.time() if start is None else float(start)
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        """Current sandbox time, epoch seconds."""
        return self._anchor_virtual + (time.monotonic() - self._anchor_real) * self._speed

    def _rebase(self) -> None:
        self._anchor_virtual = self.now()
        self._anchor_real = time.monotonic()

    def advance(self, seconds: float) -> float:
        """Move sandbox time forward (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._rebase()
        self._anchor_virtual += seconds
        return self._anchor_virtual

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self._rebase()
        self._speed = float(speed)

    def set_time(self, epoch_seconds: float) -> None:
        """Jump to an absolute time; only forward jumps are allowed."""
        if epoch_seconds < self.now():
            raise ValueError("the sandbox clock only moves forward")
        self._anchor_real = time.monotonic()
        self._anchor_virtual = float(epoch_seconds)


def graph_time(ts: float) -> str:
    """Graph API timestamp format, e.g. ``2026-11-24T10:00:00+0000``."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def http_date(ts: float) -> str:
    """The human date Graph puts in token-expiry messages."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
