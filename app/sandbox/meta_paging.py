"""Time paging of Graph page-post insights, as real replies carry it.

Real ``/{post-id}/insights`` replies (and expanded ``insights.metric(...)`` fields) end with
``paging.previous``/``paging.next`` links that move a ``since``/``until`` window, even for
``period=lifetime``, and the links embed the caller's access token. A captured reply shows
two-day windows on midnight-Pacific boundaries (``since=1597215600&until=1597388400``, i.e.
07:00 UTC), with ``next`` two days after ``previous``'s end.

What following such a link returns is not documented. The sandbox answers the reading least
favourable to a client that follows it: the same metric names again, each with empty
``values``, and new links moved one window further, so a client that replaces rows by name
loses its numbers and one that follows ``next`` while present never stops on its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from app.sandbox.fields import FieldSpec
from app.sandbox.graph_errors import invalid_parameter
from app.sandbox.meta_auth import GraphRequest

DAY = 86_400
WINDOW = 2 * DAY
_DAY_START_UTC = 7 * 3600  # Graph's insights day starts at midnight Pacific (PDT)

Window = tuple[int, int]


def current_window(now: float) -> Window:
    """The window a plain request answers: the two days ending at the end of today."""
    today = (int(now) - _DAY_START_UTC) // DAY * DAY + _DAY_START_UTC
    until = today + DAY
    return until - WINDOW, until


def requested_window(spec: FieldSpec) -> Window | None:
    """``.since(t).until(t)`` of an insights field (the route maps query params to these)."""
    since, until = spec.modifier("since"), spec.modifier("until")
    if since is None and until is None:
        return None
    try:
        start = int(since[0]) if since else None
        end = int(until[0]) if until else None
    except ValueError:
        raise invalid_parameter("since and until must be unix timestamps") from None
    if start is None:
        start = (end or 0) - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise invalid_parameter("since must be before until")
    return start, end


def time_paging(
    req: GraphRequest,
    token: str,
    object_id: str,
    edge: str,
    metrics: list[str],
    period: str | None,
    window: Window,
) -> dict[str, str]:
    """``previous``/``next`` links one window before and after ``window``, token inside."""
    since, until = window
    span = until - since or WINDOW
    base = f"{req.base_url}/{req.version}/{object_id}/{edge}"
    query: dict[str, str] = {"access_token": token, "metric": ",".join(metrics)}
    if period is not None:
        query["period"] = period

    def link(start: int, end: int) -> str:
        return f"{base}?{urlencode(query | {'since': str(start), 'until': str(end)})}"

    return {"previous": link(since - span, since), "next": link(until, until + span)}


def moved_window_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a followed time-paging link answers here: the same metrics, no values."""
    return [row | {"values": []} for row in rows]
