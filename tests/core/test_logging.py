from __future__ import annotations

import pytest

from app.core.logging import MASK, redact_secrets, scrub


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /v25.0/123/insights?metric=a&access_token=EAAB123xyz&x=1", "EAAB123xyz"),
        ("Authorization: Bearer AQV-linkedin.token_value", "AQV-linkedin.token_value"),
        ("key pm_0123456789abcdef_SuperSecretPart-_x", "SuperSecretPart"),
        ("appsecret_proof=deadbeef01", "deadbeef01"),
        ('{"access_token": "EAAsecret", "expires_in": 10}', "EAAsecret"),
        ("stored gAAAAABnXYZ0123456789abcdefghijklmnop", "gAAAAABnXYZ0123456789"),
        ("client_secret=shh&code=authcode1", "authcode1"),
    ],
)
def test_scrub_removes_token_shapes(text: str, secret: str) -> None:
    assert secret not in scrub(text)


def test_processor_masks_secret_keys_recursively() -> None:
    event = {
        "event": "x",
        "access_token": "t0k",
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "items": [{"refresh_token": "r1"}],
        "count": 3,
    }
    out = redact_secrets(None, "info", event)
    assert out["access_token"] == MASK
    assert out["headers"]["Authorization"] == MASK
    assert out["headers"]["Accept"] == "json"
    assert out["items"][0]["refresh_token"] == MASK
    assert out["count"] == 3
