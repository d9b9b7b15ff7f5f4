"""LinkedIn analytics finders: organization share statistics and member post analytics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.sandbox.curves import snapshot
from app.sandbox.entities import Post
from app.sandbox.linkedin_auth import LinkedInCaller
from app.sandbox.linkedin_errors import access_denied, bad_request, not_found
from app.sandbox.restli import RestliSyntaxError, parse_value, plain
from app.sandbox.state import SandboxState

YEAR = 365 * 86_400.0
DAY = 86_400.0
METRIC_TYPE_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"
# From 202605 the metric type is a plain string and the element names its target entity.
STRING_METRIC_TYPE_FROM = "202605"
QUERY_TYPES: dict[str, Callable[[dict[str, Any]], int]] = {
    "IMPRESSION": lambda s: s["views"],
    "MEMBERS_REACHED": lambda s: s["reach"],
    "RESHARE": lambda s: s["shares"],
    "REACTION": lambda s: s["reactions"],
    "COMMENT": lambda s: s["comments"],
    "POST_SAVE": lambda s: s["saves"],
    "POST_SEND": lambda s: s["shares"] // 2,
}
NEW_QUERY_TYPES = frozenset({"POST_SAVE", "POST_SEND"})


def _list_param(raw: dict[str, str], name: str) -> list[str]:
    if name not in raw:
        return []
    try:
        value = parse_value(raw[name])
    except RestliSyntaxError as exc:
        raise bad_request(f"Invalid param {name}: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"Param {name} must be a List of URNs")
    return value


def share_statistics_of(snap: dict[str, Any], *, aggregate: bool = False) -> dict[str, Any]:
    """``totalShareStatistics``; the mention counts come only with the organization's
    aggregate ("does not have a value when individual share statistics are requested")."""
    impressions = snap["views"]
    likes, comments, shares, clicks = (
        snap["reactions"],
        snap["comments"],
        snap["shares"],
        snap["clicks"],
    )
    engagement = (likes + comments + shares + clicks) / impressions if impressions else 0.0
    stats = {
        "uniqueImpressionsCount": snap["reach"],
        "shareCount": shares,
        "engagement": engagement,
        "clickCount": clicks,
        "likeCount": likes,
        "impressionCount": impressions,
        "commentCount": comments,
    }
    if aggregate:
        stats |= {"shareMentionsCount": 0, "commentMentionsCount": 0}
    return stats


def _sum_snapshots(posts: list[Post], at: float) -> dict[str, Any]:
    total: dict[str, Any] = {
        "views": 0,
        "reach": 0,
        "reactions": 0,
        "comments": 0,
        "shares": 0,
        "clicks": 0,
    }
    for post in posts:
        snap = snapshot(post, at)
        for key in total:
            total[key] += snap[key]
    return total


def organizational_share_statistics(
    state: SandboxState, caller: LinkedInCaller, raw: dict[str, str]
) -> dict[str, Any]:
    """``q=organizationalEntity``: lifetime totals per share/ugcPost (last 12 months only)."""
    resource = "organizationalEntityShareStatistics"
    if plain(raw.get("q", "")) != "organizationalEntity":
        raise bad_request("Invalid finder: q must be organizationalEntity")
    org_urn = plain(raw.get("organizationalEntity", ""))
    if not org_urn.startswith("urn:li:organization:"):
        raise bad_request("Param organizationalEntity must be an organization URN")
    org_id = org_urn.rsplit(":", 1)[1]
    caller.require("rw_organization_admin", resource, "FINDER-organizationalEntity")
    if org_id not in state.li_orgs or not caller.admin_of(org_id):
        raise access_denied(resource, "FINDER-organizationalEntity", caller.version)
    if "timeIntervals" in raw:
        raise bad_request("timeIntervals is not supported by the sandbox; lifetime totals only")
    now = state.now()
    wanted: list[tuple[str, str]] = []
    for param, key, prefix in (
        ("shares", "share", "urn:li:share:"),
        ("ugcPosts", "ugcPost", "urn:li:ugcPost:"),
    ):
        for urn in _list_param(raw, param):
            if not urn.startswith(prefix):
                raise bad_request(f"Invalid URN {urn} in param {param}")
            wanted.append((key, urn))
    elements: list[dict[str, Any]] = []
    if not wanted:
        posts = [
            state.posts[pid]
            for pid in state.posts_by_owner.get(org_id, [])
            if not state.posts[pid].deleted and now - state.posts[pid].created_at <= YEAR
        ]
        stats = share_statistics_of(_sum_snapshots(posts, now), aggregate=True)
        elements.append({"organizationalEntity": org_urn, "totalShareStatistics": stats})
    for key, urn in wanted:
        post = state.live_post(urn)
        if post is None or post.owner_id != org_id or now - post.created_at > YEAR:
            continue  # unknown, foreign, deleted and old posts are silently left out
        elements.append(
            {
                "organizationalEntity": org_urn,
                key: urn,
                "totalShareStatistics": share_statistics_of(snapshot(post, now)),
            }
        )
    return {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}


def _date(ts: float) -> dict[str, int]:
    d = datetime.fromtimestamp(ts, tz=UTC)
    return {"day": d.day, "month": d.month, "year": d.year}


def _parse_date(value: Any) -> float:
    try:
        d = datetime(int(value["year"]), int(value["month"]), int(value["day"]), tzinfo=UTC)
    except (KeyError, TypeError, ValueError):
        raise bad_request("Invalid dateRange") from None
    return d.timestamp()


def _metric_element(
    caller: LinkedInCaller, query_type: str, count: int, target: tuple[str, str] | None
) -> dict[str, Any]:
    if caller.version >= STRING_METRIC_TYPE_FROM:
        element: dict[str, Any] = {"count": count, "metricType": query_type}
        if target is not None:
            element["targetEntity"] = {target[0]: target[1]}
        return element
    return {"count": count, "metricType": {METRIC_TYPE_KEY: query_type}}


def member_creator_post_analytics(
    state: SandboxState, caller: LinkedInCaller, raw: dict[str, str]
) -> dict[str, Any]:
    """``q=entity`` (one post) or ``q=me`` (all the member's posts), one metric per call."""
    resource = "memberCreatorPostAnalytics"
    finder = plain(raw.get("q", ""))
    if finder not in ("entity", "me"):
        raise bad_request("Invalid finder: q must be entity or me")
    caller.require("r_member_postAnalytics", resource, f"FINDER-{finder}")
    query_type = plain(raw.get("queryType", ""))
    if query_type not in QUERY_TYPES or (
        query_type in NEW_QUERY_TYPES and caller.version < STRING_METRIC_TYPE_FROM
    ):
        raise bad_request(f"Invalid queryType {query_type or '(missing)'}")
    aggregation = plain(raw.get("aggregation", "TOTAL"))
    if aggregation not in ("TOTAL", "DAILY"):
        raise bad_request(f"Invalid aggregation {aggregation}")
    if aggregation == "DAILY" and query_type == "MEMBERS_REACHED":
        raise bad_request("MEMBERS_REACHED does not support DAILY aggregation")
    now = state.now()
    target: tuple[str, str] | None = None
    if finder == "entity":
        try:
            entity = parse_value(raw.get("entity", ""))
        except RestliSyntaxError as exc:
            raise bad_request(f"Invalid param entity: {exc}") from None
        if not isinstance(entity, dict) or len(entity) != 1:
            raise bad_request("Param entity must be (share:{urn}) or (ugc:{urn})")
        key, urn = next(iter(entity.items()))
        expected = {"share": "urn:li:share:", "ugc": "urn:li:ugcPost:"}.get(key)
        if expected is None or not isinstance(urn, str) or not urn.startswith(expected):
            raise bad_request("Param entity must be (share:{urn}) or (ugc:{urn})")
        post = state.live_post(urn)
        if post is None:
            raise not_found(f"Entity {urn} not found")
        if post.owner_id != caller.member.id:
            raise access_denied(resource, "FINDER-entity", caller.version)
        posts = [post]
        target = (key, urn)
    else:
        posts = [
            state.posts[pid]
            for pid in state.posts_by_owner.get(caller.member.id, [])
            if not state.posts[pid].deleted
        ]
    metric = QUERY_TYPES[query_type]

    def value_at(at: float) -> int:
        return sum(metric(snapshot(post, at)) for post in posts)

    elements: list[dict[str, Any]] = []
    if aggregation == "TOTAL":
        elements.append(_metric_element(caller, query_type, value_at(now), target))
    else:
        elements.extend(_daily(caller, raw, posts, now, value_at, query_type, target))
    return {
        "paging": {"start": 0, "count": 10, "links": [], "total": len(elements)},
        "elements": elements,
    }


def _daily(
    caller: LinkedInCaller,
    raw: dict[str, str],
    posts: list[Post],
    now: float,
    value_at: Callable[[float], int],
    query_type: str,
    target: tuple[str, str] | None,
) -> list[dict[str, Any]]:
    if "dateRange" in raw:
        try:
            date_range = parse_value(raw["dateRange"])
            start, end = _parse_date(date_range["start"]), _parse_date(date_range["end"])
        except (RestliSyntaxError, KeyError, TypeError):
            raise bad_request("Invalid dateRange") from None
    else:
        first = min((post.created_at for post in posts), default=now)
        start = (
            datetime.fromtimestamp(first, tz=UTC).replace(hour=0, minute=0, second=0).timestamp()
        )
        end = now
    end = min(end, now)
    if end - start > 366 * DAY:
        start = end - 366 * DAY
    out = []
    day = start
    while day < end:
        nxt = min(day + DAY, end)
        element = _metric_element(caller, query_type, value_at(nxt) - value_at(day), target)
        element["dateRange"] = {"start": _date(day), "end": _date(day + DAY - 1)}
        out.append(element)
        day = (datetime.fromtimestamp(day, tz=UTC) + timedelta(days=1)).timestamp()
    return out
