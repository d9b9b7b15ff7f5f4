"""Schedule API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from app.integrations.platforms import PLATFORMS, platform_for
from app.models.enums import (
    AttemptPhase,
    ErrorKind,
    ExternalStatus,
    Provider,
    ScheduleStatus,
    SettledBy,
    TargetState,
)
from app.schemas.accounts import ExternalId
from app.schemas.common import NOT_BLANK_PATTERN, AwareDatetime, InputModel

# The longest text any supported platform accepts; each platform's own limit is checked
# against the schedule's targets in the service.
MAX_TEXT = max(home.content_rules.max_text_length for home in PLATFORMS.values())
# The most media any supported platform takes in one post (LinkedIn: 20 images).
MAX_MEDIA = max(home.content_rules.max_media for home in PLATFORMS.values())


# A post id of any platform: the schema states this union of the homes' `post_id` patterns (which
# one applies depends on the account a ref names, which the schema cannot know; the server
# checks that one, see `check_post_external_id`).
ANY_POST_ID_PATTERN = "|".join(f"(?:{home.post_id.pattern.pattern})" for home in PLATFORMS.values())

# Lists of account ids name each account once (the server refuses repeats; the schema says so).
_UNIQUE: JsonDict = {"uniqueItems": True}


def check_post_external_id(provider: Provider, external_id: str) -> None:
    """`ValueError` unless `external_id` has the shape of a post id on `provider`."""
    platform_for(provider).post_id.check(provider, external_id)


class Content(InputModel):
    text: str = Field(default="", max_length=MAX_TEXT)
    link: AnyHttpUrl | None = None
    media_urls: list[AnyHttpUrl] = Field(default_factory=list, max_length=MAX_MEDIA)


def _something_to_post(schema: dict[str, Any]) -> None:
    """State the rule `check_content` applies last (422 `empty_content`): text, a link or media."""
    schema["anyOf"] = [
        {"properties": {"text": {"pattern": NOT_BLANK_PATTERN}}, "required": ["text"]},
        {"properties": {"link": {"type": "string"}}, "required": ["link"]},
        {"properties": {"media_urls": {"minItems": 1}}, "required": ["media_urls"]},
    ]


class ScheduleContent(Content):
    """What a schedule posts: text, a link or media, at least one of them."""

    model_config = ConfigDict(json_schema_extra=_something_to_post)


class ContentOut(BaseModel):
    text: str
    link: str | None
    media_urls: list[str]


class ScheduleCreate(InputModel):
    content: ScheduleContent
    publish_at: AwareDatetime | None = Field(
        default=None, description="When to publish; null keeps the schedule a draft."
    )
    account_ids: list[uuid.UUID] = Field(min_length=1, max_length=3, json_schema_extra=_UNIQUE)


class ScheduleUpdate(InputModel):
    content: ScheduleContent | None = None
    publish_at: AwareDatetime | None = None
    account_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=3, json_schema_extra=_UNIQUE
    )


class ImportRef(InputModel):
    account_id: uuid.UUID
    external_id: ExternalId = Field(
        pattern=ANY_POST_ID_PATTERN,
        description="The post's id on the account's platform: {page-id}_{post-id} or a video "
        "id on Facebook, a media id on Instagram, urn:li:share:N or urn:li:ugcPost:N on LinkedIn.",
    )
    url: AnyHttpUrl | None = None


class ScheduleImport(InputModel):
    content: Content | None = None
    published_at: AwareDatetime | None = None
    refs: list[ImportRef] = Field(min_length=1, max_length=3)


class TargetOut(BaseModel):
    account_id: uuid.UUID
    provider: Provider
    state: TargetState = Field(
        description="pending, publishing, posted, failed (with the platform's reason) or "
        "unknown (the platform did not confirm and the post could not be found or ruled out: "
        "never retried automatically)."
    )
    external_id: str | None = Field(default=None, description="The post's id once posted.")
    error: str | None = None


class ScheduleOut(BaseModel):
    id: uuid.UUID
    status: ScheduleStatus
    content: ContentOut
    publish_at: datetime | None
    published_at: datetime | None
    targets: list[TargetOut]
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class ExternalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: Provider
    account_id: uuid.UUID | None
    external_id: str
    url: str | None
    published_at: datetime | None
    status: ExternalStatus
    media_type: str | None
    last_fetched_at: datetime | None
    next_fetch_at: datetime | None
    last_error_kind: ErrorKind | None
    last_error: str | None

    @field_validator("last_error")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        return value[:500] if value else value


class AttemptOut(BaseModel):
    """One try to create a target's post."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    phase: AttemptPhase = Field(
        description="preparing, ready, calling (sent, outcome not yet known), created, "
        "failed, absent (proven not created), unknown."
    )
    started_at: datetime
    call_started_at: datetime | None
    finished_at: datetime | None
    external_id: str | None
    error_kind: ErrorKind | None
    error_code: str | None
    error_message: str | None
    settled_by: SettledBy | None = Field(
        description="How the outcome became known: the reply, or reconciliation "
        "(found, absent, inconclusive), or the settle deadline."
    )


class TargetAttemptsOut(BaseModel):
    account_id: uuid.UUID
    provider: Provider
    state: TargetState
    attempts: list[AttemptOut]
