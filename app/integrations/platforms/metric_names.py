"""Metric names as the settings list them, translated into names a platform accepts today.

Metric names are data that goes stale (Meta retires metrics every few versions), so each
platform home declares its names once (`MetricNames`: known, retired and their replacements,
defaults, core) and `MetricNames.resolve` turns a settings string into names to use:

- Legacy names are translated (``impressions`` -> ``post_media_view``/``views``, ``saves`` ->
  ``saved``) and never sent; unknown names are dropped. Everything noteworthy is logged as ONE
  warning per setting value.
- By default the *core* metrics that fill our columns are always included, so an old,
  partial env value still yields complete metrics (``include_core=False`` to opt out).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog

__all__ = ["MetricNames", "ResolvedMetrics"]

log = structlog.get_logger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ResolvedMetrics:
    """Metric names to use, plus human-readable notes about what was translated/dropped."""

    metrics: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricNames:
    """One platform's metric names as a setting (``setting``) may list them.

    ``legacy`` maps an old name to its replacements: ``()`` = read from the post object, not
    an insights metric; ``None`` = retired by the platform.
    """

    setting: str
    known: frozenset[str]
    legacy: Mapping[str, tuple[str, ...] | None]
    defaults: tuple[str, ...]
    core: tuple[str, ...]

    def resolve(
        self, raw: str | Iterable[str] | None, *, include_core: bool = True
    ) -> ResolvedMetrics:
        """The names to use for the setting's value ``raw`` (``None``/empty: the defaults)."""
        names = _split(raw)
        if not names:
            return ResolvedMetrics(self.defaults)
        out: list[str] = []
        notes: list[str] = []
        for name in names:
            if name in self.known:
                out.append(name)
            elif name in self.legacy:
                replacement = self.legacy[name]
                if replacement is None:
                    notes.append(f"{name}: retired by the platform, dropped")
                elif replacement:
                    notes.append(f"{name} -> {','.join(replacement)}")
                    out.extend(replacement)
                else:
                    notes.append(f"{name}: read from the post object, not an insights metric")
            elif not _NAME_RE.match(name):
                notes.append(f"{name!r}: not a metric name, dropped")
            else:
                notes.append(f"{name}: unknown metric, dropped")
        if include_core:
            out.extend(self.core)
        metrics = tuple(dict.fromkeys(out))
        if notes:
            _warn_once(self.setting, ",".join(names), notes, metrics)
        return ResolvedMetrics(metrics, tuple(notes))


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _split(raw: str | Iterable[str] | None) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or ())
    return [item.strip() for item in items if item and item.strip()]


def _warn_once(setting: str, raw: str, notes: list[str], metrics: tuple[str, ...]) -> None:
    with _warned_lock:
        if (setting, raw) in _warned:
            return
        _warned.add((setting, raw))
    log.warning(
        "insights.config.metric_names_translated",
        setting=setting,
        notes=notes,
        using=list(metrics),
    )
