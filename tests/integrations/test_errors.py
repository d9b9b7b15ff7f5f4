"""Error classification and token scrubbing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.integrations.errors import (
    InvalidMetricError,
    InvalidRequestError,
    NotFoundError,
    PermanentError,
    PlatformPermissionError,
    ThrottledError,
    TokenError,
    TransientError,
    redact,
)
from app.integrations.platforms.linkedin_errors import classify_linkedin_error
from app.integrations.platforms.meta_errors import classify_graph_error

TOKEN = "EAABwzLixnjYBAsecretsecretsecret"


def _graph(code: int, message: str = "x", subcode: int | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message, "type": "OAuthException"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (1, None, TransientError),
        (2, None, TransientError),
        (4, None, ThrottledError),
        (17, None, ThrottledError),
        (32, None, ThrottledError),
        (613, None, ThrottledError),
        (80001, None, ThrottledError),
        (80002, None, ThrottledError),
        (80014, None, ThrottledError),
        (190, 463, TokenError),
        (190, 460, TokenError),
        (102, None, TokenError),
        (10, None, PlatformPermissionError),
        (200, None, PlatformPermissionError),
        (299, None, PlatformPermissionError),
        (100, 33, NotFoundError),
        (506, None, InvalidRequestError),
        (368, None, InvalidRequestError),
    ],
)
def test_graph_codes(code: int, subcode: int | None, expected: type[Exception]) -> None:
    error = classify_graph_error(400, _graph(code, subcode=subcode), provider="facebook")
    assert type(error) is expected
    assert error.code == code
    assert error.http_status == 400


def test_graph_families() -> None:
    assert classify_graph_error(400, _graph(2)).transient
    assert isinstance(classify_graph_error(400, _graph(190)), PermanentError)
    assert not classify_graph_error(400, _graph(190)).transient


def test_throttle_scopes_and_hint() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    page = classify_graph_error(400, _graph(32), throttle_key="123", retry_after=when)
    assert isinstance(page, ThrottledError)
    assert (page.scope, page.key, page.retry_after) == ("page", "123", when)
    app = classify_graph_error(400, _graph(4))
    assert isinstance(app, ThrottledError)
    assert app.scope == "app"


@pytest.mark.parametrize(
    ("message", "metric", "index"),
    [
        ("(#100) The value must be a valid insights metric", None, None),
        (
            "(#100) The Media Insights API does not support the saved metric for this media "
            "product type.",
            "saved",
            None,
        ),
        (
            "Starting from version 22 and above, the impressions metric is no longer supported "
            "for the queried user.",
            "impressions",
            None,
        ),
        ("(#100) The metric shares is not supported for this media type", "shares", None),
        ("(#100) metric[2] must be one of the following values: reach, views", None, 2),
    ],
)
def test_invalid_metric_parsing(message: str, metric: str | None, index: int | None) -> None:
    error = classify_graph_error(400, _graph(100, message), provider="instagram")
    assert isinstance(error, InvalidMetricError)
    assert (error.metric, error.metric_index) == (metric, index)
    assert error.provider == "instagram"


def test_graph_body_as_text_and_garbage() -> None:
    as_text = classify_graph_error(400, json.dumps(_graph(190)))
    assert isinstance(as_text, TokenError)
    assert isinstance(classify_graph_error(502, "<html>bad gateway</html>"), TransientError)
    assert isinstance(classify_graph_error(500, None), TransientError)
    assert isinstance(classify_graph_error(429, None), ThrottledError)
    assert isinstance(classify_graph_error(404, ""), NotFoundError)
    assert isinstance(classify_graph_error(400, None), InvalidRequestError)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, TokenError),
        (403, PlatformPermissionError),
        (404, NotFoundError),
        (429, ThrottledError),
        (500, TransientError),
        (503, TransientError),
        (400, InvalidRequestError),
    ],
)
def test_linkedin_statuses(status: int, expected: type[Exception]) -> None:
    body = {"status": status, "serviceErrorCode": 65600, "message": "nope"}
    error = classify_linkedin_error(status, body)
    assert type(error) is expected
    assert error.provider == "linkedin"
    assert error.code == 65600


def test_linkedin_throttle_is_member_scoped() -> None:
    error = classify_linkedin_error(429, "{}", throttle_key="urn:li:organization:1")
    assert isinstance(error, ThrottledError)
    assert (error.scope, error.key) == ("member", "urn:li:organization:1")


def test_tokens_never_in_messages() -> None:
    echoed = (
        f"Invalid request https://graph.facebook.com/v25.0/me?access_token={TOKEN}"
        "&appsecret_proof=deadbeefcafe1234 Authorization: Bearer AQVsecretLinkedIn"
        f' {{"access_token": "{TOKEN}"}} bare {TOKEN}'
    )
    error = classify_graph_error(400, _graph(100, echoed))
    for text in (str(error), repr(error), json.dumps(error.to_dict()), str(error.args)):
        assert TOKEN not in text
        assert "deadbeefcafe1234" not in text
        assert "AQVsecretLinkedIn" not in text
    li = classify_linkedin_error(401, {"message": "token AQVliteral123 invalid"},
                                 secrets=("AQVliteral123",))  # fmt: skip
    assert "AQVliteral123" not in repr(li)


def test_redact_keeps_harmless_text() -> None:
    assert redact("metric[0] must be views; error_code=100") == (
        "metric[0] must be views; error_code=100"
    )
    assert redact("a?access_token=abc&x=1") == "a?access_token=***&x=1"
    assert redact("a?access_token%3Dabc") == "a?access_token%3D***"


def test_repr_shows_useful_fields() -> None:
    error = classify_graph_error(400, _graph(190, "expired", subcode=463), provider="facebook")
    assert repr(error) == (
        "TokenError(provider='facebook', code=190, subcode=463, http_status=400, message='expired')"
    )
    assert error.to_dict()["kind"] == "reconnect_required"


def test_to_dict_carries_the_graph_trace_id() -> None:
    body = _graph(2, "temporary")
    body["error"]["fbtrace_id"] = "AbCdEf123"  # type: ignore[index]
    error = classify_graph_error(500, json.dumps(body).encode(), provider="facebook")
    assert error.trace_id == "AbCdEf123"
    assert error.to_dict()["trace_id"] == "AbCdEf123"
    assert classify_linkedin_error(500, b"{}").to_dict()["trace_id"] is None


def test_a_linkedin_429_without_a_hint_is_not_retried_soon() -> None:
    # LinkedIn's limits are daily: a retry within seconds only spends another call.
    daily = classify_linkedin_error(429, {"status": 429})
    assert isinstance(daily, ThrottledError)
    assert daily.transient
    assert not daily.retry_soon
    # Graph's rolling limits without a hint keep their short, bounded retries.
    rolling = classify_graph_error(400, _graph(4))
    assert isinstance(rolling, ThrottledError)
    assert rolling.retry_soon
