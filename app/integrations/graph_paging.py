"""Which Graph ``paging`` links are worth following, and following them without losing data.

Graph pages in two ways, and only one of them means "more rows":

- **cursor paging** (list edges, and insights when Graph pages the metric list itself):
  ``paging.cursors.before/after`` plus ``paging.next``;
- **time paging** (insights): ``paging.previous``/``paging.next`` move a ``since``/``until``
  window. For the lifetime metrics we read, a moved window adds no metric, so following it
  costs one unbatched call per post for nothing. It is never followed.

A follow-up page is optional: the first reply already holds the metrics. When the follow-up
fails (any platform error), what the first reply held is kept and a dotted event is logged
without the URL (paging URLs embed the access token). Paging links are never stored either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog

from app.integrations.errors import PlatformError, Provider
from app.integrations.types import JSON

log = structlog.get_logger(__name__)

PageGetter = Callable[[str], Awaitable[JSON]]
_WINDOW_PARAMS = frozenset({"since", "until"})


def cursor_next(container: Any) -> str | None:
    """``paging.next`` of ``container`` when it is cursor paging, else ``None``.

    Cursor paging carries ``paging.cursors``; a link that moves a ``since``/``until`` window
    is time paging whatever else it carries, and is never returned.
    """
    if not isinstance(container, dict):
        return None
    paging = container.get("paging")
    if not isinstance(paging, dict) or not isinstance(paging.get("cursors"), dict):
        return None
    next_url = paging.get("next")
    if not isinstance(next_url, str) or not next_url:
        return None
    query = {key for key, _ in parse_qsl(urlsplit(next_url).query, keep_blank_values=True)}
    return None if query & _WINDOW_PARAMS else next_url


def strip_paging(body: JSON) -> JSON:
    """``body`` without any ``paging`` block (top level or in an expanded field): they embed
    the access token, and the payload is stored."""
    body.pop("paging", None)
    for value in body.values():
        if isinstance(value, dict):
            value.pop("paging", None)
    return body


async def complete_insights(
    body: JSON,
    edge: str,
    get_page: PageGetter,
    *,
    provider: Provider,
    object_id: str,
    max_pages: int,
) -> JSON:
    """Merge cursor pages of ``body[edge]`` while they add metric names; drop all paging.

    ``get_page`` fetches one follow-up link (with our own credentials and base URL). A failed
    follow-up keeps the metrics already received.
    """
    container = body.get(edge)
    if isinstance(container, dict) and isinstance(container.get("data"), list):
        data: list[JSON] = [row for row in container["data"] if isinstance(row, dict)]
        seen = {row.get("name") for row in data}
        next_url = cursor_next(container)
        for page_number in range(1, max_pages + 1):
            if next_url is None or not data:
                break
            try:
                page = await get_page(next_url)
            except PlatformError as exc:
                log.warning(
                    "insights.paging.failed",
                    provider=provider,
                    object_id=object_id,
                    page=page_number,
                    error_kind=str(exc.kind),
                    code=exc.code,
                )
                break
            new = [
                row
                for row in page.get("data") or []
                if isinstance(row, dict) and row.get("name") not in seen
            ]
            if not new:
                break
            data.extend(new)
            seen.update(row.get("name") for row in new)
            next_url = cursor_next(page)
        body[edge] = {"data": data}
    return strip_paging(body)
