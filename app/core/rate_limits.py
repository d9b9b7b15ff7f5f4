"""Rate limits for the API, counted with the `limits` library.

Sliding-window counters (constant memory per key, no burst at a window's edge), kept in this
process's memory by default (`RATE_LIMIT_STORAGE_URL=memory://`, right for the embedded
single-process server) or in Redis (`redis://host:port/db`), which every process of a
scaled-out install must share for the limits to hold across processes.

Four budgets, each a `limits` string (several joined by ';'):

- `key`: every API request of one API key;
- `force_refresh`: `POST /api/v1/insights/fetch/{id}` with `force_refresh`, per workspace
  (they spend the platforms' quotas, which every workspace shares);
- `address`: API requests from one client address without a valid key (none, or a wrong
  one): what a key-guessing flood spends;
- `public`: the probes and the docs, per client address.

A storage that fails (Redis down) does not take the API down with it: the request is let
through and the failure is logged, at most once a minute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import structlog
from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from app.core.config import Settings

log = structlog.get_logger(__name__)

KEY_PREFIX = "postmeter"
# A Redis that does not answer must not hold requests for long.
REDIS_TIMEOUT_SECONDS = 0.5
STORAGE_ERROR_LOG_EVERY_SECONDS = 60.0


class Budget(StrEnum):
    KEY = "key"
    FORCE_REFRESH = "force_refresh"
    ADDRESS = "address"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request over its budget: which one, and when to try again (whole seconds, >= 1)."""

    budget: Budget
    retry_after: int
    limit: str

    @property
    def message(self) -> str:
        return (
            f"too many requests: {self.limit} {_WHOSE[self.budget]}; retry in {self.retry_after} s"
        )


_WHOSE = {
    Budget.KEY: "per API key",
    Budget.FORCE_REFRESH: "of force_refresh fetches per workspace",
    Budget.ADDRESS: "per client address without a valid API key",
    Budget.PUBLIC: "per client address",
}


def build_storage(url: str) -> Storage:
    """The `limits` storage for RATE_LIMIT_STORAGE_URL (redis-py's asyncio client for Redis)."""
    if url.startswith("memory://"):
        return MemoryStorage(wrap_exceptions=True)
    return RedisStorage(
        f"async+{url}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=KEY_PREFIX,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


class RateLimits:
    """The API's budgets over one storage; `hit` spends one request from a budget."""

    def __init__(self, budgets: Mapping[Budget, str], storage: Storage) -> None:
        self._items: dict[Budget, list[RateLimitItem]] = {
            budget: parse_many(spec) for budget, spec in budgets.items()
        }
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._adhoc: dict[str, RateLimitItem] = {}
        self._last_storage_error = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits | None:
        """None when RATE_LIMIT_ENABLED is false."""
        if not settings.RATE_LIMIT_ENABLED:
            return None
        budgets = {
            Budget.KEY: settings.RATE_LIMIT_PER_KEY,
            Budget.FORCE_REFRESH: settings.RATE_LIMIT_FORCE_REFRESH,
            Budget.ADDRESS: settings.RATE_LIMIT_PER_ADDRESS,
            Budget.PUBLIC: settings.RATE_LIMIT_PUBLIC,
        }
        return cls(budgets, build_storage(settings.RATE_LIMIT_STORAGE_URL))

    async def hit(self, budget: Budget, identity: str) -> Refusal | None:
        """Spend one request of `identity` from `budget`; a `Refusal` when it has none left."""
        try:
            for item in self._items[budget]:
                if not await self._limiter.hit(item, budget.value, identity):
                    return await self._refusal(budget, item, identity)
        except StorageError as exc:
            self._storage_failed(exc)
        return None

    async def allow(self, spec: str, *identity: str) -> bool:
        """Spend one from an ad-hoc budget (`spec`, e.g. "1/minute") of `identity`: whether
        it had one (True when the storage fails)."""
        item = self._adhoc.get(spec)
        if item is None:
            item = self._adhoc[spec] = parse(spec)
        try:
            return await self._limiter.hit(item, "adhoc", *identity)
        except StorageError as exc:
            self._storage_failed(exc)
            return True

    async def _refusal(self, budget: Budget, item: RateLimitItem, identity: str) -> Refusal:
        stats = await self._limiter.get_window_stats(item, budget.value, identity)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return Refusal(budget=budget, retry_after=wait, limit=str(item))

    def _storage_failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._last_storage_error >= STORAGE_ERROR_LOG_EVERY_SECONDS:
            self._last_storage_error = now
            log.warning(
                "rate_limit.storage_unavailable",
                error=exc.storage_error,
                note="requests are let through without rate limits until it answers",
            )

    async def reset(self) -> None:
        """Forget every count (in Redis: every key under KEY_PREFIX of its database)."""
        await self._storage.reset()

    async def aclose(self) -> None:
        """Close the Redis connections (a memory storage has none)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
