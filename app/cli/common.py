"""Helpers shared by CLI commands: consoles, a runtime for one command, one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.runtime import Runtime
from app.services.startup import command_runtime, load_settings_and_logging

__all__ = [
    "command_runtime",
    "console",
    "err_console",
    "load_settings_and_logging",
    "run_in_transaction",
]

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def run_in_transaction(fn: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run `fn` in one committed transaction on a fresh runtime."""

    async def _go() -> T:
        async with command_runtime() as runtime, runtime.sessionmaker() as session:
            async with session.begin():
                return await fn(session, runtime)

    return asyncio.run(_go())
