"""The per-process runtime: settings, database engine, session factory and token cipher."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.security import TokenCipher, build_token_cipher


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: TokenCipher

    async def aclose(self) -> None:
        await self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Everything a request or job needs; one per process (or per test)."""
    cipher = build_token_cipher(settings)
    engine = create_engine(settings)
    return Runtime(
        settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), cipher=cipher
    )
