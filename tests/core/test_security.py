from __future__ import annotations

import pytest

from app.core.security import (
    TokenCipher,
    TokenDecryptError,
    api_secret_matches,
    generate_api_key,
    generate_encryption_key,
    split_api_key,
)


def test_api_key_roundtrip() -> None:
    key = generate_api_key()
    parts = split_api_key(key.plaintext)
    assert parts is not None
    lookup, secret = parts
    assert lookup == key.lookup
    assert api_secret_matches(secret, key.secret_hash)
    assert not api_secret_matches(secret + "x", key.secret_hash)
    assert key.plaintext not in key.secret_hash


@pytest.mark.parametrize(
    "bad", ["", "pm_", "pm_short_x", "xx_0123456789abcdef_s", "pm_0123456789abcdef_"]
)
def test_malformed_keys_rejected(bad: str) -> None:
    assert split_api_key(bad) is None


def test_multifernet_rotation() -> None:
    old, new = generate_encryption_key(), generate_encryption_key()
    before = TokenCipher([old])
    ciphertext = before.encrypt("page-token")
    after = TokenCipher([new, old])
    assert after.decrypt(ciphertext) == "page-token"
    assert not after.is_current(ciphertext)
    rotated = after.rotate(ciphertext)
    assert after.is_current(rotated)
    assert TokenCipher([new]).decrypt(rotated) == "page-token"
    with pytest.raises(TokenDecryptError) as info:
        TokenCipher([generate_encryption_key()]).decrypt(ciphertext)
    assert "page-token" not in str(info.value)
