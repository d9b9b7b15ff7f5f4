"""Shared API schema pieces: errors, pagination, time-range filters."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.core.errors import InvalidInput

T = TypeVar("T")

# Platforms keep posts for years; anything outside this window is a typo, not a plan.
EARLIEST = datetime(2004, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=2 * 366)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone (e.g. 2026-01-31T09:00:00Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +14:00
        raise ValueError("is out of range (2004 to two years from now)") from None
    if value < EARLIEST or value > datetime.now(UTC) + MAX_FUTURE:
        raise ValueError("is out of range (2004 to two years from now)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class ValidationIssue(BaseModel):
    """One problem with the request, as validation found it (the input is never echoed)."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str] = Field(description="Where: `body`, `query`, `path`, then the field path.")
    msg: str
    type: str | None = Field(description="A stable kind, e.g. `missing`, `string_too_long`.")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable and machine-readable, e.g. `not_found`.")
    message: str = Field(description="For people; names the field at fault.")
    details: list[ValidationIssue] | None = Field(
        default=None, description="Validation errors (422 `invalid_input`): every problem found."
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refuse it everywhere so both backends agree. Secrets
        # too: a token with a NUL in it is no token any platform issued.
        secret = value.get_secret_value() if isinstance(value, SecretStr) else None
        if isinstance(secret, str) and "\x00" in secret:
            raise ValueError("must not contain NUL characters")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise InvalidInput(
            "cursor: not a cursor returned by this API", code="invalid_cursor"
        ) from None
