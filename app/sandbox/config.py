"""Tunable limits and behaviour of the sandbox (changeable at run time via the control API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class Quotas:
    """Rate-limit quotas. Meta windows are rolling, LinkedIn ones reset at UTC midnight.

    All windows run on sandbox time.
    """

    meta_app_calls_per_hour: int = 20_000  # Platform rate limit (user/app tokens) -> code 4
    meta_user_calls_per_hour: int = 4_800  # per user (user tokens) -> code 17
    meta_page_calls_per_day: int = 48_000  # BUC "pages" per page -> 80001 (page token) / 32
    meta_ig_calls_per_day: int = 48_000  # BUC "instagram" per IG account -> 80002
    ig_publish_per_day: int = 50  # content_publishing_limit, rolling 24 h
    linkedin_app_calls_per_day: int = 100_000  # -> 429
    linkedin_member_calls_per_day: int = 5_000  # -> 429

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown quota {key!r}")
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"quota {key!r} must be a non-negative integer")
            setattr(self, key, value)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class Settings:
    """Behaviour switches that are not quotas."""

    usage_header_min_pct: int = 1  # usage headers appear once this share of a quota is used
    graph_min_version: int = 20  # /vNN.0/ below this -> error
    ig_image_processing_seconds: float = 3.0  # container IN_PROGRESS time (sandbox seconds)
    ig_video_processing_seconds: float = 20.0
    ig_container_ttl_seconds: float = 86_400.0  # unpublished containers expire after 24 h
    linkedin_version_max_age_months: int = 12  # older LinkedIn-Version -> 426
    linkedin_image_processing_seconds: float = 2.0  # image PROCESSING -> AVAILABLE after upload
    linkedin_video_processing_seconds: float = 30.0  # video PROCESSING -> AVAILABLE after finalize
    linkedin_video_part_bytes: int = 4_194_304  # size of each uploadInstructions part
    # Identical content by the same author within this window: 422 DUPLICATE_POST (the real
    # window is undocumented, "short": research §3.6).
    linkedin_duplicate_window_seconds: float = 3600.0
    # The same status text as the Page's previous /feed post within this window: 506.
    fb_duplicate_window_seconds: float = 3600.0
    # Graph insights replies carry time-paging links (token inside), as the real API's do.
    meta_time_paging: bool = True

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown setting {key!r}")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"setting {key!r} must be true or false")
                setattr(self, key, value)
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"setting {key!r} must be a non-negative number")
            setattr(self, key, type(current)(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
