"""OpenAPI links: where the id a create answers with is used next. Clients (and schemathesis's
stateful phase) follow them from a new account to its reads, edits and schedules, and from a
new schedule to everything done with it."""

from __future__ import annotations

from typing import Any

# The API's prefix (app.main mounts the routers there); a test resolves every link below
# against the served document.
_PREFIX = "/api/v1"
_ID = "$response.body#/id"


def _ref(path: str, method: str) -> str:
    pointer = (_PREFIX + path).replace("~", "~0").replace("/", "~1")
    return f"#/paths/{pointer}/{method}"


def _by_id(param: str, targets: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        name: {"operationRef": _ref(path, method), "parameters": {param: _ID}}
        for name, (path, method) in targets.items()
    }


ACCOUNT_LINKS: dict[str, Any] = {
    **_by_id(
        "account_id",
        {
            "GetAccount": ("/accounts/{account_id}", "get"),
            "UpdateAccount": ("/accounts/{account_id}", "patch"),
            "DeleteAccount": ("/accounts/{account_id}", "delete"),
        },
    ),
    "ScheduleWithAccount": {
        "operationRef": _ref("/schedules", "post"),
        "requestBody": {"account_ids": [_ID]},
        "description": "Schedule a post to the new account.",
    },
}

SCHEDULE_LINKS: dict[str, Any] = _by_id(
    "schedule_id",
    {
        "GetSchedule": ("/schedules/{schedule_id}", "get"),
        "UpdateSchedule": ("/schedules/{schedule_id}", "patch"),
        "CancelSchedule": ("/schedules/{schedule_id}/cancel", "post"),
        "PublishSchedule": ("/schedules/{schedule_id}/publish", "post"),
        "RetrySchedule": ("/schedules/{schedule_id}/retry", "post"),
        "ListExternal": ("/schedules/{schedule_id}/external", "get"),
        "ListAttempts": ("/schedules/{schedule_id}/attempts", "get"),
        "FetchInsights": ("/insights/fetch/{schedule_id}", "post"),
        "GetMetrics": ("/insights/metrics/{schedule_id}", "get"),
        "GetHistory": ("/insights/metrics/{schedule_id}/history", "get"),
    },
)


def created(links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: the 201 with its links."""
    return {201: {"description": "Created", "links": links}}
