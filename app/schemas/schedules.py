"""Schedule API schemas."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from app.models.enums import ExternalStatus, Provider, ScheduleStatus
from app.schemas.common import AwareDatetime, InputModel

# The longest any supported platform accepts (Facebook); per-provider limits are checked
# against the schedule's targets in the service.
MAX_TEXT = 63_206
PROVIDER_TEXT_LIMITS: dict[Provider, int] = {
    Provider.FACEBOOK: 63_206,
    Provider.INSTAGRAM: 2_200,
    Provider.LINKEDIN: 3_000,
}
_POST_ID_RULES: dict[Provider, tuple[re.Pattern[str], str]] = {
    Provider.FACEBOOK: (re.compile(r"^\d{1,32}(_\d{1,32})?$"), "{page-id}_{post-id} or a video id"),
    Provider.INSTAGRAM: (re.compile(r"^\d{1,32}$"), "a numeric Instagram media id"),
    Provider.LINKEDIN: (
        re.compile(r"^urn:li:(share|ugcPost):\d{1,32}$"),
        "urn:li:share:N or urn:li:ugcPost:N",
    ),
}


def check_post_external_id(provider: Provider, external_id: str) -> None:
    pattern, what = _POST_ID_RULES[provider]
    if not pattern.match(external_id):
        raise ValueError(f"external_id for {provider.value} must be {what}")


class Content(InputModel):
    text: str = Field(default="", max_length=MAX_TEXT)
    link: AnyHttpUrl | None = None
    media_urls: list[AnyHttpUrl] = Field(default_factory=list, max_length=10)


class ContentOut(BaseModel):
    text: str
    link: str | None
    media_urls: list[str]


class ScheduleCreate(InputModel):
    content: Content
    publish_at: AwareDatetime | None = Field(
        default=None, description="When to publish; null keeps the schedule a draft."
    )
    account_ids: list[uuid.UUID] = Field(min_length=1, max_length=3)


class ScheduleUpdate(InputModel):
    content: Content | None = None
    publish_at: AwareDatetime | None = None
    account_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=3)


class ImportRef(InputModel):
    account_id: uuid.UUID
    external_id: str = Field(min_length=1, max_length=255)
    url: AnyHttpUrl | None = None


class ScheduleImport(InputModel):
    content: Content | None = None
    published_at: AwareDatetime | None = None
    refs: list[ImportRef] = Field(min_length=1, max_length=3)


class TargetOut(BaseModel):
    account_id: uuid.UUID
    provider: Provider


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
    last_error_kind: str | None
    last_error: str | None

    @field_validator("last_error")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        return value[:500] if value else value
