"""The per-process runtime: settings, database engine, session factory and token cipher."""

from __future__ import annotations

import gc
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import TxMode, create_engine, create_read_engine, create_sessionmaker
from app.core.security import TokenCipher, build_token_cipher


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: TokenCipher
    # API requests' sessions (app.routes.deps.get_session): reads never wait on a writer,
    # writes wait DATABASE_API_LOCK_TIMEOUT_MS at most (app.core.db.TxMode). Writes share
    # `engine`'s pool; reads have `read_engine` (app.core.db.create_read_engine).
    api_read_sessionmaker: async_sessionmaker[AsyncSession]
    api_write_sessionmaker: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine

    async def aclose(self) -> None:
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Everything a request or job needs; one per process (or per test)."""
    cipher = build_token_cipher(settings)
    engine = create_engine(settings)
    read_engine = create_read_engine(settings, engine)
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cipher=cipher,
        api_read_sessionmaker=create_sessionmaker(read_engine, TxMode.API_READ),
        api_write_sessionmaker=create_sessionmaker(engine, TxMode.API_WRITE),
        read_engine=read_engine,
    )


# Young-generation collections every 20,000 net allocations instead of 700.
GC_GEN0_THRESHOLD = 20_000


def tune_gc_for_service() -> None:
    """Call once start-up is done in a long-running process (server, worker, poll pass).

    The poller allocates a parsed payload per post. With CPython's defaults the cyclic
    collector ran so often, and re-walked every object start-up had created (modules, ORM
    and DBOS registries) so many times, that it took ~23 % of the poller's CPU (measured:
    docs/BENCHMARKS.md). `gc.freeze()` moves what exists now out of the collector's sight
    (it lives for the whole process anyway) and a larger young generation collects less
    often; reference counting still frees everything that is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
