"""Rate-limit accounting on sandbox time: Meta rolling windows and LinkedIn daily quotas."""

from __future__ import annotations

import json
import math
from collections import deque

from app.sandbox.config import Quotas

HOUR = 3600.0
DAY = 86_400.0
_BUCKETS = 60


class RollingWindow:
    """Call count over the last ``width`` seconds, kept in 60 buckets (O(1) per call)."""

    __slots__ = ("buckets", "step", "total", "width")

    def __init__(self, width: float) -> None:
        self.width = width
        self.step = width / _BUCKETS
        self.buckets: deque[list[int]] = deque()  # [bucket index, count]
        self.total = 0

    def _evict(self, now: float) -> None:
        oldest_live = int(now // self.step) - _BUCKETS + 1
        buckets = self.buckets
        while buckets and buckets[0][0] < oldest_live:
            self.total -= buckets.popleft()[1]

    def add(self, now: float, n: int = 1) -> int:
        """Count ``n`` calls at ``now``; returns the count in the window."""
        self._evict(now)
        idx = int(now // self.step)
        buckets = self.buckets
        if buckets and buckets[-1][0] == idx:
            buckets[-1][1] += n
        else:
            buckets.append([idx, n])
        self.total += n
        return self.total

    def count(self, now: float) -> int:
        self._evict(now)
        return self.total

    def seconds_until_below(self, now: float, quota: int) -> float:
        """Sandbox seconds until the count drops below ``quota`` (0 if it already is)."""
        self._evict(now)
        excess = self.total - quota
        if excess < 0:
            return 0.0
        freed = 0
        for idx, n in self.buckets:
            freed += n
            if freed > excess:
                leaves_at = (idx + _BUCKETS) * self.step
                return max(0.0, leaves_at - now)
        return self.width


def _pct(count: int, quota: int) -> int:
    if quota <= 0:
        return 100
    return min(100, count * 100 // quota)


# Graph throttling codes by window kind
APP_LIMIT, USER_LIMIT, PAGE_LIMIT_USER, PAGE_LIMIT, IG_LIMIT = 4, 17, 32, 80001, 80002


class MetaThrottle:
    """Outcome of counting one Graph call: headers to add and the throttling code, if any."""

    __slots__ = ("code", "headers", "minutes")

    def __init__(self) -> None:
        self.code: int | None = None
        self.minutes = 0
        self.headers: dict[str, str] = {}


class UsageMeter:
    """Counts calls per app, user, page and Instagram account (Meta) and per day (LinkedIn)."""

    __slots__ = ("daily", "windows")

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], RollingWindow] = {}
        self.daily: dict[tuple[str, str], list[int]] = {}  # key -> [day index, count]

    def reset(self) -> None:
        self.windows.clear()
        self.daily.clear()

    def _window(self, kind: str, key: str, width: float) -> RollingWindow:
        w = self.windows.get((kind, key))
        if w is None:
            w = self.windows[(kind, key)] = RollingWindow(width)
        return w

    def meta_call(
        self,
        *,
        quotas: Quotas,
        overrides: dict[str, int],
        min_pct: int,
        now: float,
        app_id: str,
        user_id: str | None,
        page_token: bool,
        target_kind: str | None,
        target_id: str | None,
    ) -> MetaThrottle:
        """Count one call; user/app tokens use the app and user windows, page tokens BUC."""
        out = MetaThrottle()
        if not page_token:
            quota = overrides.get("meta_app_calls_per_hour", quotas.meta_app_calls_per_hour)
            n = self._window("app", app_id, HOUR).add(now)
            pct = _pct(n, quota)
            if pct >= min_pct:
                out.headers["x-app-usage"] = json.dumps(
                    {"call_count": pct, "total_cputime": pct * 2 // 5, "total_time": pct * 3 // 5}
                )
            if n > quota:
                out.code = APP_LIMIT
            if user_id is not None:
                uquota = overrides.get("meta_user_calls_per_hour", quotas.meta_user_calls_per_hour)
                if self._window("user", user_id, HOUR).add(now) > uquota and out.code is None:
                    out.code = USER_LIMIT
        if target_kind is not None and target_id is not None:
            if target_kind == "instagram":
                quota = overrides.get("meta_ig_calls_per_day", quotas.meta_ig_calls_per_day)
            else:
                quota = overrides.get("meta_page_calls_per_day", quotas.meta_page_calls_per_day)
            window = self._window(target_kind, target_id, DAY)
            n = window.add(now)
            pct = _pct(n, quota)
            minutes = 0
            if n > quota:
                minutes = max(1, math.ceil(window.seconds_until_below(now, quota) / 60.0))
                if out.code is None:
                    if target_kind == "instagram":
                        out.code = IG_LIMIT
                    else:
                        out.code = PAGE_LIMIT if page_token else PAGE_LIMIT_USER
            out.minutes = max(out.minutes, minutes)
            if pct >= min_pct:
                usage = {
                    "type": target_kind,
                    "call_count": pct,
                    "total_cputime": pct * 2 // 5,
                    "total_time": pct * 3 // 5,
                    "estimated_time_to_regain_access": minutes,
                }
                out.headers["x-business-use-case-usage"] = json.dumps({target_id: [usage]})
        if out.code in (APP_LIMIT, USER_LIMIT) and out.minutes == 0:
            kind, key = ("app", app_id) if out.code == APP_LIMIT else ("user", user_id or "")
            name = (
                "meta_app_calls_per_hour" if out.code == APP_LIMIT else "meta_user_calls_per_hour"
            )
            quota = overrides.get(name, getattr(quotas, name))
            seconds = self._window(kind, key, HOUR).seconds_until_below(now, quota)
            out.minutes = max(1, math.ceil(seconds / 60.0))
        return out

    def linkedin_call(
        self, *, quotas: Quotas, overrides: dict[str, int], now: float, app_id: str, member_id: str
    ) -> str | None:
        """Count one LinkedIn call; returns ``APPLICATION``/``MEMBER`` when a daily quota is hit."""
        day = int(now // DAY)
        result: str | None = None
        for kind, key, name in (
            ("APPLICATION", app_id, "linkedin_app_calls_per_day"),
            ("MEMBER", member_id, "linkedin_member_calls_per_day"),
        ):
            entry = self.daily.get((kind, key))
            if entry is None or entry[0] != day:
                entry = self.daily[(kind, key)] = [day, 0]
            entry[1] += 1
            if entry[1] > overrides.get(name, getattr(quotas, name)) and result is None:
                result = kind
        return result
