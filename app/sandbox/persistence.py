"""Saving the world to a JSON file and loading it back (usage windows and faults are not kept)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

from app.sandbox.clock import SandboxClock
from app.sandbox.entities import (
    App,
    AuthCode,
    Container,
    FbPhoto,
    IgAccount,
    LinkedInAsset,
    LinkedInMember,
    LinkedInOrg,
    MetaUser,
    Page,
    Post,
    Published,
    RefreshToken,
    Token,
)
from app.sandbox.state import SandboxState

FORMAT = 1
T = TypeVar("T")
_POST_FIELDS = [f.name for f in fields(Post)]
_PUBLISHED_FIELDS = [f.name for f in fields(Published)]
_TABLES: dict[str, type[Any]] = {
    "apps": App,
    "meta_users": MetaUser,
    "pages": Page,
    "ig_accounts": IgAccount,
    "li_orgs": LinkedInOrg,
    "li_members": LinkedInMember,
    "tokens": Token,
    "refresh_tokens": RefreshToken,
    "codes": AuthCode,
    "containers": Container,
    "fb_photos": FbPhoto,
    "li_assets": LinkedInAsset,
}


def _load_record(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {
        k: tuple(v) if k in ("scopes", "children") else v for k, v in data.items() if k in names
    }
    return cls(**values)


def dump_state(state: SandboxState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT,
        "world_seed": state.world_seed,
        "clock": {"now": state.now(), "speed": state.clock.speed},
        "id_counters": dict(state.ids.counters),
        "quotas": state.quotas.to_dict(),
        "settings": state.settings.to_dict(),
        "default_app": state.default_app,
        "demo": state.demo,
        "page_token_index": [[*key, value] for key, value in state.page_token_index.items()],
        "fb_objects": state.fb_objects,
        "ig_publishes": state.ig_publishes,
        "li_post_extras": state.li_post_extras,
        "fb_last_message": state.fb_last_message,
        "li_uploads": state.li_uploads,
        "published_fields": _PUBLISHED_FIELDS,
        "published": [[getattr(r, n) for n in _PUBLISHED_FIELDS] for r in state.published],
        "post_fields": _POST_FIELDS,
        # posts as rows: compact enough for 100k+ posts
        "posts": [[getattr(p, name) for name in _POST_FIELDS] for p in state.posts.values()],
    }
    for table in _TABLES:
        out[table] = [asdict(record) for record in getattr(state, table).values()]
    return out


def load_state(
    state: SandboxState, data: dict[str, Any], *, clock_speed: float | None = None
) -> None:
    """Replace ``state``'s world with ``data`` (from :func:`dump_state`)."""
    if data.get("format") != FORMAT:
        raise ValueError("unsupported sandbox state file format")
    state.clear(data["world_seed"])
    state.ids.counters.update(data["id_counters"])
    clock = data["clock"]
    state.clock = SandboxClock(
        start=clock["now"], speed=clock["speed"] if clock_speed is None else clock_speed
    )
    state.quotas.update(data.get("quotas", {}))
    state.settings.update(data.get("settings", {}))
    state.default_app = dict(data.get("default_app", {}))
    state.demo = dict(data.get("demo", {}))
    for table, cls in _TABLES.items():
        target = getattr(state, table)
        for record in data.get(table, []):
            obj = _load_record(cls, record)
            key = (
                obj.value
                if table in ("tokens", "refresh_tokens")
                else obj.code
                if table == "codes"
                else obj.urn
                if table == "li_assets"
                else obj.id
            )
            target[key] = obj
    for app_id, user_id, page_id, value in data.get("page_token_index", []):
        state.page_token_index[(app_id, user_id, page_id)] = value
    state.fb_objects.update(data.get("fb_objects", {}))
    state.ig_publishes.update(data.get("ig_publishes", {}))
    state.li_post_extras.update(data.get("li_post_extras", {}))
    state.fb_last_message.update(data.get("fb_last_message", {}))
    state.li_uploads.update(data.get("li_uploads", {}))
    published_names = data.get("published_fields", _PUBLISHED_FIELDS)
    for row in data.get("published", []):
        values = dict(zip(published_names, row, strict=True))
        values["media"] = tuple(values.get("media") or ())
        state.published.append(Published(**values))
    names = data.get("post_fields", _POST_FIELDS)
    for row in data.get("posts", []):
        values = dict(zip(names, row, strict=True))
        values["children"] = tuple(values.get("children") or ())
        post = Post(**values)
        state.posts[post.id] = post
        state.posts_by_owner.setdefault(post.owner_id, []).append(post.id)
    state.touch()


def save_file(state: SandboxState, path: str | os.PathLike[str]) -> None:
    """Atomic write: a crash mid-save leaves the previous file intact."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dump_state(state), fh, separators=(",", ":"))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_file(
    state: SandboxState, path: str | os.PathLike[str], *, clock_speed: float | None = None
) -> bool:
    """Load ``path`` into ``state`` if it exists; returns whether it did."""
    target = Path(path)
    if not target.exists():
        return False
    with target.open(encoding="utf-8") as fh:
        load_state(state, json.load(fh), clock_speed=clock_speed)
    return True
