"""One error vocabulary: every typed platform error carries an ErrorKind, the one stored and
shown through the API."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from app.core.error_kinds import ErrorKind
from app.integrations import errors
from app.integrations.errors import (
    ApiVersionError,
    DuplicateError,
    InvalidMetricError,
    InvalidRequestError,
    MediaError,
    NoStatisticsError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    PlatformError,
    PlatformPermissionError,
    PolicyError,
    PublishRefusedError,
    QuotaError,
    SpamError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.platforms.linkedin_errors import classify_linkedin_error
from app.integrations.platforms.meta_errors import classify_graph_error

EXPECTED: dict[type[PlatformError], ErrorKind] = {
    PlatformError: ErrorKind.REJECTED,
    TransientError: ErrorKind.TRANSIENT,
    ThrottledError: ErrorKind.THROTTLED,
    PermanentError: ErrorKind.REJECTED,
    TokenError: ErrorKind.RECONNECT_REQUIRED,
    PlatformPermissionError: ErrorKind.PERMISSION,
    NotFoundError: ErrorKind.NOT_FOUND,
    NoStatisticsError: ErrorKind.NO_DATA,
    InvalidMetricError: ErrorKind.INVALID_METRIC,
    InvalidRequestError: ErrorKind.REJECTED,
    ApiVersionError: ErrorKind.API_VERSION_INACTIVE,
    OutcomeUnknownError: ErrorKind.OUTCOME_UNKNOWN,
    PublishRefusedError: ErrorKind.REJECTED,
    PolicyError: ErrorKind.POLICY,
    DuplicateError: ErrorKind.DUPLICATE,
    SpamError: ErrorKind.SPAM,
    MediaError: ErrorKind.MEDIA,
    QuotaError: ErrorKind.QUOTA,
}


def test_every_platform_error_type_is_mapped_here() -> None:
    defined = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, PlatformError)
    }
    assert defined == set(EXPECTED)


@pytest.mark.parametrize(("cls", "kind"), list(EXPECTED.items()), ids=lambda v: str(v))
def test_each_error_type_has_its_kind(cls: type[PlatformError], kind: ErrorKind) -> None:
    error = cls("boom", provider="facebook")
    assert error.kind is kind
    assert error.to_dict()["kind"] == kind.value  # what a stored payload records


def _graph(code: int, message: str = "x", **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, _graph(2), ErrorKind.TRANSIENT),
        (400, _graph(4), ErrorKind.THROTTLED),
        (400, _graph(80001), ErrorKind.THROTTLED),
        (400, _graph(190, error_subcode=463), ErrorKind.RECONNECT_REQUIRED),
        (403, _graph(10), ErrorKind.PERMISSION),
        (
            400,
            _graph(100, "(#100) The value must be a valid insights metric"),
            ErrorKind.INVALID_METRIC,
        ),
        (
            400,
            _graph(100, "Object with ID '1' does not exist", error_subcode=33),
            ErrorKind.NOT_FOUND,
        ),
        (400, _graph(100, "Invalid parameter"), ErrorKind.REJECTED),
        (404, None, ErrorKind.NOT_FOUND),
    ],
)
def test_graph_replies_classify_into_the_vocabulary(
    status: int, body: Any, kind: ErrorKind
) -> None:
    assert classify_graph_error(status, body, provider="facebook").kind is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ErrorKind.RECONNECT_REQUIRED),
        (403, ErrorKind.PERMISSION),
        (404, ErrorKind.NOT_FOUND),
        (426, ErrorKind.API_VERSION_INACTIVE),
        (429, ErrorKind.THROTTLED),
        (503, ErrorKind.TRANSIENT),
    ],
)
def test_linkedin_replies_classify_into_the_vocabulary(status: int, kind: ErrorKind) -> None:
    assert classify_linkedin_error(status, {"message": "m"}).kind is kind


def test_kinds_fit_the_column() -> None:
    # schedule_external.last_error_kind is VARCHAR(32).
    assert all(len(kind.value) <= 32 for kind in ErrorKind)
