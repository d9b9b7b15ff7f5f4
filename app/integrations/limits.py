"""Meta usage-header parsing and per-key request smoothing (aiolimiter).

- :func:`parse_meta_usage`: ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` -> :class:`MetaUsage`.
- :class:`KeyedLimiter`: one :class:`AsyncLimiter` per key that slows down as usage nears
  100 % and can be paused until a time (then it raises, so callers park instead of sleeping).
- :class:`QuotaCaller` (`quota_caller`): whose calls these are. The refresher sets one around
  each account's fetch; the Graph transport counts the calls on it, learns from the replies
  whether the token's calls count against the app-wide quota (a user token's do, a page
  token's do not), and feeds the app's usage to that workspace's share key instead of a key
  every workspace shares (docs/design/fair-quotas.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiolimiter import AsyncLimiter

from app.core import jsonfast
from app.core.clock import utcnow
from app.integrations.errors import Provider, ThrottledError, ThrottleScope

log = structlog.get_logger(__name__)


# --- Meta usage headers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusinessUsage:
    """One entry of ``X-Business-Use-Case-Usage`` (percentages of the quota used)."""

    business_id: str
    type: str
    call_count: float
    total_cputime: float
    total_time: float
    estimated_time_to_regain_access: int  # minutes

    @property
    def max_percent(self) -> float:
        return max(self.call_count, self.total_cputime, self.total_time)


@dataclass(frozen=True, slots=True)
class MetaUsage:
    """Parsed Meta rate-limit headers of one response."""

    app_call_count: float | None = None
    app_total_cputime: float | None = None
    app_total_time: float | None = None
    business: tuple[BusinessUsage, ...] = ()
    # The app_* numbers came from the older page-level `X-Page-Usage` (page-token calls), not
    # from `X-App-Usage`: they are the page's usage, not the app's.
    page_level: bool = False

    @property
    def app_percent(self) -> float | None:
        values = [
            v
            for v in (self.app_call_count, self.app_total_cputime, self.app_total_time)
            if v is not None
        ]
        return max(values) if values else None

    @property
    def max_percent(self) -> float:
        """The highest usage percentage across app and business entries (0 if none)."""
        values = [e.max_percent for e in self.business]
        if (app := self.app_percent) is not None:
            values.append(app)
        return max(values, default=0.0)

    @property
    def regain_access_minutes(self) -> int:
        """The longest ``estimated_time_to_regain_access`` reported (minutes, 0 if none)."""
        return max((e.estimated_time_to_regain_access for e in self.business), default=0)

    def for_business(self, business_id: str) -> tuple[BusinessUsage, ...]:
        """Entries of one business object (page / IG user id)."""
        return tuple(e for e in self.business if e.business_id == business_id)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _header_json(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    return jsonfast.loads_or(raw) if raw else None


def parse_meta_usage(headers: Mapping[str, str]) -> MetaUsage | None:
    """Parse ``X-App-Usage`` (or ``X-Page-Usage``) and ``X-Business-Use-Case-Usage``.

    Returns ``None`` when neither header is present (they only appear after some calls).
    Malformed headers are ignored rather than failing a successful response.
    """
    app = _header_json(headers, "x-app-usage")
    page_level = False
    if not isinstance(app, dict):
        app = _header_json(headers, "x-page-usage")
        page_level = isinstance(app, dict)
    buc = _header_json(headers, "x-business-use-case-usage")
    entries: list[BusinessUsage] = []
    if isinstance(buc, dict):
        for business_id, items in buc.items():
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                entries.append(
                    BusinessUsage(
                        business_id=str(business_id),
                        type=str(item.get("type", "")),
                        call_count=_num(item.get("call_count")),
                        total_cputime=_num(item.get("total_cputime")),
                        total_time=_num(item.get("total_time")),
                        estimated_time_to_regain_access=int(
                            _num(item.get("estimated_time_to_regain_access"))
                        ),
                    )
                )
    if not isinstance(app, dict) and not entries:
        return None
    app = app if isinstance(app, dict) else {}
    return MetaUsage(
        app_call_count=_num(app["call_count"]) if "call_count" in app else None,
        app_total_cputime=_num(app["total_cputime"]) if "total_cputime" in app else None,
        app_total_time=_num(app["total_time"]) if "total_time" in app else None,
        business=tuple(entries),
        page_level=page_level,
    )


# --- whose calls ----------------------------------------------------------------------------


@dataclass(slots=True)
class QuotaCaller:
    """One account's fetch, as the rate limits see it.

    ``share_key``: the limiter key of the workspace's share of the app-wide quota.
    ``app_scoped``: whether this token's calls count against the app-wide quota; ``None``
    until a reply shows it (``X-App-Usage`` or an app-level throttle answer only come to
    user/app-token calls; page tokens fall under the business-use-case limits).
    """

    share_key: str
    app_scoped: bool | None = None
    calls: int = 0  # sub-requests sent (a batch of 50 is 50 calls to Graph's counters)
    app_percent: float | None = None  # the highest app-wide usage the replies reported


quota_caller: ContextVar[QuotaCaller | None] = ContextVar("quota_caller", default=None)


# --- per-key smoothing --------------------------------------------------------------------


@dataclass(slots=True)
class _KeyState:
    limiter: AsyncLimiter
    cost: float = 1.0
    paused_until: datetime | None = None
    scope: ThrottleScope = "app"


@dataclass
class KeyedLimiter:
    """An :class:`AsyncLimiter` per key (app, page id, IG user, member), created lazily.

    Above ``slow_down_at`` percent usage each acquisition costs more, so the effective rate
    falls linearly to ``min_rate_fraction`` at 100 %. :meth:`pause` stops a key until a time;
    :meth:`acquire` then raises :class:`ThrottledError` so the caller can park, not sleep.
    The dict is bounded: the least recently used key is evicted past ``max_keys``.
    """

    max_rate: float = 10.0
    time_period: float = 1.0
    max_keys: int = 10_000
    slow_down_at: float = 75.0
    min_rate_fraction: float = 0.1
    provider: Provider = "meta"
    _keys: OrderedDict[str, _KeyState] = field(default_factory=OrderedDict, repr=False)

    def _state(self, key: str) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = _KeyState(AsyncLimiter(self.max_rate, self.time_period))
            self._keys[key] = state
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return state

    def paused_until(self, key: str) -> datetime | None:
        """When ``key`` may be used again, or ``None`` if it is not paused."""
        state = self._keys.get(key)
        if state is None or state.paused_until is None:
            return None
        if state.paused_until <= utcnow():
            state.paused_until = None
            return None
        return state.paused_until

    def pause(self, key: str, until: datetime, *, scope: ThrottleScope = "app") -> None:
        """Stop handing out capacity for ``key`` until ``until`` (never shortens a pause)."""
        state = self._state(key)
        if state.paused_until is None or until > state.paused_until:
            state.paused_until = until
            state.scope = scope
            log.warning("insights.limiter.paused", key=key, until=until.isoformat(), scope=scope)

    def observe_usage(
        self, key: str, percent: float, *, regain_minutes: int = 0, scope: ThrottleScope = "app"
    ) -> None:
        """Feed a usage percentage for ``key``; slow down near 100 %, pause at/after it."""
        state = self._state(key)
        if percent >= 100.0 or regain_minutes > 0:
            minutes = regain_minutes if regain_minutes > 0 else 5
            self.pause(key, utcnow() + timedelta(minutes=minutes), scope=scope)
        if percent <= self.slow_down_at:
            state.cost = 1.0
            return
        span = max(100.0 - self.slow_down_at, 1e-9)
        fraction = max(self.min_rate_fraction, (100.0 - min(percent, 100.0)) / span)
        state.cost = min(1.0 / fraction, self.max_rate)

    def observe_meta_usage(
        self, key: str, usage: MetaUsage, caller: QuotaCaller | None = None
    ) -> None:
        """Apply a parsed Meta usage to ``key`` (the page / IG user id) and the app's usage to
        the caller's workspace share (to ``"app"`` without a caller: a client used alone)."""
        entries = usage.for_business(key) or usage.business
        if entries:
            worst = max(e.max_percent for e in entries)
            regain = max(e.estimated_time_to_regain_access for e in entries)
            self.observe_usage(key, worst, regain_minutes=regain, scope="page")
        if (app := usage.app_percent) is not None:
            if caller is None:
                self.observe_usage("app", app, scope="app")
                return
            if usage.page_level:  # X-Page-Usage: the page's own limit, a page token's call
                self.observe_usage(key, app, scope="page")
                return
            # Only user/app-token calls are told the app's usage: this token's calls count
            # against the app's quota. The usage slows (and at 100 % pauses) this workspace's
            # share alone; whether the whole app pauses is decided with every workspace's
            # calls in view (app.services.quota_shares).
            caller.app_scoped = True
            caller.app_percent = max(app, caller.app_percent or 0.0)
            self.observe_usage(caller.share_key, app, scope="workspace")

    def cost(self, key: str) -> float:
        """Current capacity cost of one call for ``key`` (1.0 = full speed)."""
        state = self._keys.get(key)
        return state.cost if state else 1.0

    def keys_for(self, usage_key: str | None, caller: QuotaCaller | None) -> list[str]:
        """The keys one call takes capacity from: the process-wide ceiling ("app", never
        paused by a workspace's usage when callers are known), the page's, and the
        workspace's share for calls known to count against the app's quota."""
        keys = ["app"]
        if usage_key:
            keys.append(usage_key)
        if caller is not None and caller.app_scoped:
            keys.append(caller.share_key)
        return keys

    async def acquire(self, *keys: str) -> None:
        """Wait for capacity on every key; raise :class:`ThrottledError` if one is paused."""
        for key in keys:
            if (until := self.paused_until(key)) is not None:
                scope = self._keys[key].scope
                raise ThrottledError(
                    f"{key} paused by usage limits",
                    provider=self.provider,
                    scope=scope,
                    key=key,
                    retry_after=until,
                )
        for key in keys:
            state = self._state(key)
            await state.limiter.acquire(state.cost)
