"""Result checks and printing for the benchmarks: outcome verification, tables, profiles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.models import PostMetrics, ScheduleExternal


async def verify_outcomes(runtime: Runtime, since: datetime) -> dict[str, Any]:
    """Every tracked post: exactly one snapshot this run, or a recorded error; none lost.

    (Rows per (schedule, provider, bucket) are not counted: a unique constraint keeps them at
    one.)
    """
    ext, pm = ScheduleExternal, PostMetrics
    async with runtime.sessionmaker() as s:
        tracked = int(await s.scalar(select(func.count()).select_from(ext)) or 0)
        rows = int(await s.scalar(select(func.count()).select_from(pm)) or 0)
        per_post = (
            select(pm.schedule_id, pm.provider, func.count().label("n"))
            .group_by(pm.schedule_id, pm.provider)
            .subquery()
        )
        with_snapshot = int(await s.scalar(select(func.count()).select_from(per_post)) or 0)
        multi = int(
            await s.scalar(select(func.count()).select_from(per_post).where(per_post.c.n > 1)) or 0
        )
        has_snap = (
            select(pm.id)
            .where(pm.schedule_id == ext.schedule_id, pm.provider == ext.provider)
            .exists()
        )
        errored = int(
            await s.scalar(
                select(func.count())
                .select_from(ext)
                .where(~has_snap, ext.last_error_kind.is_not(None))
            )
            or 0
        )
        lost = int(
            await s.scalar(
                select(func.count())
                .select_from(ext)
                .where(~has_snap, ext.last_error_kind.is_(None))
            )
            or 0
        )
        stale = int(
            await s.scalar(select(func.count()).select_from(pm).where(pm.captured_at < since)) or 0
        )
        kinds = {
            str(kind): count  # the ErrorKind's value, as the API's errors_by_kind shows it
            for kind, count in await s.execute(
                select(ext.last_error_kind, func.count())
                .where(ext.last_error_kind.is_not(None))
                .group_by(ext.last_error_kind)
            )
        }
    return {
        "tracked": tracked, "snapshot_rows": rows, "posts_with_snapshot": with_snapshot,
        "posts_multi_snapshot": multi, "error_only": errored, "lost": lost,
        "snapshots_before_run": stale, "error_kinds": kinds,
    }  # fmt: skip


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain aligned table (also pasteable into Markdown)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "| "
            + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True))
            + " |"
        )
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def profile_summary(
    path: str,
    top: int = 30,
    match: tuple[str, ...] = ("(app/", "(workers/", "aiosqlite", "thread ("),
) -> list[list[Any]]:
    """Share of samples per function from py-spy collapsed stacks (inclusive and self)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if "(idle)" not in f]
        total += n
        for frame in dict.fromkeys(f for f in frames if any(m in f for m in match)):
            inclusive[frame] = inclusive.get(frame, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    return [[f"{n / total:.0%}", f"{own.get(fr, 0) / total:.0%}", fr[:110]] for fr, n in ranked]
