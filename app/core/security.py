"""API keys (hashed, shown once) and platform tokens encrypted at rest (MultiFernet)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.core.config import ConfigError, Settings
from app.core.files import PRIVATE_FILE_MODE, ensure_private_dir

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "pm"
KEY_FILE_NAME = "token_encryption.key"


# --- API keys --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly minted key: `plaintext` is shown to the user once and never stored."""

    lookup: str
    plaintext: str
    secret_hash: str


def hash_api_secret(secret: str) -> str:
    # Keys carry 256 bits of entropy, so a fast hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    """`pm_<lookup>_<secret>`: the lookup part finds the row, the secret is compared by hash."""
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(
        lookup=lookup,
        plaintext=f"{API_KEY_PREFIX}_{lookup}_{secret}",
        secret_hash=hash_api_secret(secret),
    )


def split_api_key(presented: str) -> tuple[str, str] | None:
    """Return (lookup, secret) for a well-formed key, else None."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def api_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_secret(secret), stored_hash)


# --- token encryption ------------------------------------------------------------------------


class TokenCipher:
    """Encrypts tokens under the newest key; decrypts under any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("configuration error: TOKEN_ENCRYPTION_KEYS: no key given")
        try:
            self._fernets = [Fernet(key.encode()) for key in keys]
        except (ValueError, TypeError):
            raise ConfigError(
                "configuration error: TOKEN_ENCRYPTION_KEYS: each key must be a Fernet key "
                "(32 url-safe base64-encoded bytes); create one with `postmeter keys generate`"
            ) from None
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenDecryptError from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key (no-op in meaning, new ciphertext)."""
        try:
            return self._multi.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenDecryptError from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the newest key decrypts this ciphertext."""
        try:
            self._fernets[0].decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True


class TokenDecryptError(Exception):
    """A stored token cannot be decrypted with any configured key."""

    def __str__(self) -> str:
        return "stored token cannot be decrypted with the configured TOKEN_ENCRYPTION_KEYS"


def generate_encryption_key() -> str:
    return Fernet.generate_key().decode()


def _read_or_create_key_file(data_dir: Path) -> str:
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    ensure_private_dir(data_dir)
    key = generate_encryption_key()
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.warning("security.token_key.generated", path=str(path))
    return key


def build_token_cipher(settings: Settings) -> TokenCipher:
    """The cipher from TOKEN_ENCRYPTION_KEYS, or (SQLite only) a key generated once on disk."""
    if settings.TOKEN_ENCRYPTION_KEYS is not None:
        raw = settings.TOKEN_ENCRYPTION_KEYS.get_secret_value()
        return TokenCipher([k.strip() for k in raw.split(",") if k.strip()])
    if not settings.is_sqlite:
        raise ConfigError(
            "configuration error: TOKEN_ENCRYPTION_KEYS: required with PostgreSQL "
            "(create one with `postmeter keys generate`)"
        )
    return TokenCipher([_read_or_create_key_file(settings.DATA_DIR)])
