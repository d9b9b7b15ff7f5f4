"""Shared API schema pieces: errors, pagination, time-range filters."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SecretStr,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.errors import InvalidInput

T = TypeVar("T")

# Platforms keep posts for years; anything outside these years is a typo, not a plan. A fixed
# window, stated in the OpenAPI schema (`DATETIME_PATTERN`), so that what the schema admits is
# what the server takes (a window moving with the clock cannot be written in a schema).
EARLIEST_YEAR = 2004
LATEST_YEAR = 2099
# Every instant the API takes: RFC 3339 with a timezone, a year from EARLIEST_YEAR to
# LATEST_YEAR as written, no leap second (Python has none), at most nanoseconds. The validator
# applies this pattern and the schema states the same one.
DATETIME_PATTERN = (
    r"^(?:200[4-9]|20[1-9][0-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_DATETIME_RE = re.compile(DATETIME_PATTERN)
_DATETIME_RULE = (
    f"must be an RFC 3339 date-time with a timezone, years {EARLIEST_YEAR} to {LATEST_YEAR} "
    "(e.g. 2026-01-31T09:00:00Z)"
)


def _rfc3339(value: object) -> object:
    """Strings must fit DATETIME_PATTERN (no Unix times, no naive or partial forms);
    `datetime` objects (callers in Python) pass on to `_aware`."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATETIME_RE.fullmatch(value):
        return value
    raise ValueError(_DATETIME_RULE)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone (e.g. 2026-01-31T09:00:00Z)")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(_DATETIME_RULE)
    return value.astimezone(UTC)


AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_aware),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}),
]


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


# Text fields are stripped of whitespace (Unicode White_Space, as pydantic strips it) before
# their minimum length applies: a value must hold one other character. Spelled out, since `\s`
# means three different sets in Python, JSON Schema's ECMA-262 and pydantic's Rust regex.
NOT_BLANK_PATTERN = (
    r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema states `_no_nul`: no field's string holds a NUL character."""
        json_schema = handler(core_schema)
        for field_schema in handler.resolve_ref_schema(json_schema).get("properties", {}).values():
            field_schema.setdefault("not", NO_NUL)
        return json_schema


# A JSON Schema for "not a string with a NUL character in it" (any other value passes).
NO_NUL: dict[str, object] = {"type": "string", "pattern": "\\u0000"}


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


# Every paging cursor is 16 bytes (a position in the listing's order), URL-safe base64 without
# padding: 22 characters. Any 22 such characters decode to some position, so this pattern, which
# the OpenAPI schema states, is the whole rule; an empty cursor means the first page.
CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{22})?$"
_CURSOR_RE = re.compile(CURSOR_PATTERN)
CURSOR_BYTES = 16


def cursor_from_bytes(raw: bytes) -> str:
    if len(raw) != CURSOR_BYTES:
        raise ValueError(f"a cursor holds {CURSOR_BYTES} bytes, not {len(raw)}")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_bytes(cursor: str | None) -> bytes | None:
    """The position a cursor holds; None for none (or empty). `InvalidInput` (422
    `invalid_cursor`) for a value that does not fit CURSOR_PATTERN (the schema refuses it too)."""
    if not cursor:
        return None
    if not _CURSOR_RE.fullmatch(cursor):
        raise InvalidInput("cursor: not a cursor returned by this API", code="invalid_cursor")
    return base64.urlsafe_b64decode(cursor + "==")


def encode_cursor(last_id: uuid.UUID) -> str:
    return cursor_from_bytes(last_id.bytes)


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    raw = cursor_bytes(cursor)
    return None if raw is None else uuid.UUID(bytes=raw)
