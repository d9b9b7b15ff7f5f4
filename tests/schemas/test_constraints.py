"""The OpenAPI schema states the rules the server applies (schemathesis ST202): each pattern is
the server's own, taken from where the rule lives, and the server takes what it admits."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from app.integrations.platforms import PLATFORMS
from app.main import create_app
from app.schemas.common import (
    CURSOR_PATTERN,
    DATETIME_PATTERN,
    NOT_BLANK_PATTERN,
    AwareDatetime,
    decode_cursor,
    encode_cursor,
)
from app.services.insights_store import _decode_history_cursor, encode_history_cursor
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    return create_app(make_settings(folder, f"sqlite:///{folder / 'x.sqlite'}")).openapi()


def test_account_ids_follow_each_platform_home(openapi: dict[str, Any]) -> None:
    rules = openapi["components"]["schemas"]["AccountCreate"]["allOf"]
    then = "then"
    stated = {
        r["if"]["properties"]["provider"]["const"]: r[then]["properties"]["external_id"]["pattern"]
        for r in rules
    }
    assert stated == {p.value: home.account_id.pattern.pattern for p, home in PLATFORMS.items()}


def test_imported_post_ids_are_any_platform_post_id(openapi: dict[str, Any]) -> None:
    pattern = openapi["components"]["schemas"]["ImportRef"]["properties"]["external_id"]["pattern"]
    for home in PLATFORMS.values():
        assert f"(?:{home.post_id.pattern.pattern})" in pattern
    assert re.search(pattern, "urn:li:share:7")
    assert re.search(pattern, "123_456")
    assert not re.search(pattern, "urn:li:person:abc")


def test_platform_ids_are_ascii_digits() -> None:
    # Python's \d takes any Unicode digit; the schema's (and the platforms') ids are 0-9.
    for provider, home in PLATFORMS.items():
        with pytest.raises(ValueError, match="external_id"):
            home.account_id.check(provider, "١٢٣")
        with pytest.raises(ValueError, match="external_id"):
            home.account_id.check(provider, "123\n")


def _params(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    return {p["name"]: p["schema"] for p in openapi["paths"][path]["get"]["parameters"]}


def test_query_datetimes_and_cursors_state_their_patterns(openapi: dict[str, Any]) -> None:
    for path in ("/api/v1/schedules", "/api/v1/insights/metrics/{schedule_id}/history"):
        params = _params(openapi, path)
        for name in ("from", "to"):
            assert params[name]["anyOf"][0]["pattern"] == DATETIME_PATTERN
        assert CURSOR_PATTERN in str(params["cursor"])
    assert CURSOR_PATTERN in str(_params(openapi, "/api/v1/accounts")["cursor"])


_INSTANT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        ("2026-01-31T09:00:00Z", True),
        ("2004-01-01t00:00:00z", True),
        ("2099-12-31T23:59:59.123456789+14:00", True),
        ("2004-01-01T00:00:00+05:00", True),  # the year as written
        ("2003-12-31T23:59:59Z", False),
        ("2100-01-01T00:00:00Z", False),
        ("2026-01-31T09:00:00", False),  # no timezone
        ("2026-01-31", False),
        ("1700000000", False),  # Unix time: pydantic would take it, the schema does not
        ("2026-01-31T23:59:60Z", False),  # leap second
        (" 2026-01-31T09:00:00Z", False),
    ],
)
def test_datetimes_taken_are_those_the_pattern_admits(value: str, taken: bool) -> None:
    assert bool(re.fullmatch(DATETIME_PATTERN, value)) is taken
    if taken:
        assert _INSTANT.validate_python(value).tzinfo is UTC
    else:
        with pytest.raises(ValidationError):
            _INSTANT.validate_python(value)


def test_every_cursor_the_pattern_admits_is_a_position() -> None:
    for cursor in ("A" * 22, "_" * 22, "-" * 21 + "9", encode_cursor(uuid.uuid4())):
        assert re.fullmatch(CURSOR_PATTERN, cursor)
        assert isinstance(decode_cursor(cursor), uuid.UUID)
        assert _decode_history_cursor(cursor) is not None
    assert decode_cursor("") is None
    for bad in ("A" * 21, "A" * 23, "A" * 21 + "=", "A" * 21 + "$"):
        assert not re.fullmatch(CURSOR_PATTERN, bad)
        with pytest.raises(Exception, match="not a cursor"):
            decode_cursor(bad)


def test_history_cursor_round_trip() -> None:
    class Row:
        fetched_at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
        id = 42

    cursor = encode_history_cursor(Row())  # type: ignore[arg-type]
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert _decode_history_cursor(cursor) == (Row.fetched_at, 42)


def test_not_blank_is_what_stripping_leaves_non_empty() -> None:
    class Stripped(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        value: str

    for code in range(0x3100):
        char = chr(code)
        if char in "\x00":
            continue
        stripped_away = Stripped(value=char).value == ""
        assert (re.search(NOT_BLANK_PATTERN, char) is None) is stripped_away, hex(code)
