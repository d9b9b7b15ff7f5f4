"""Postmeter settings: one pydantic-settings class, read from the environment and `.env`.

Every field here is documented in `env.sample`. Plain database URLs (``sqlite:///x.db``,
``postgresql://u@h/db``) are accepted as users write them; the async and sync driver URLs the
app needs are derived here, so no other module parses URLs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

DEFAULT_DATA_DIR = Path("data")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """All runtime configuration. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- storage -------------------------------------------------------------------------
    DATA_DIR: Path = DEFAULT_DATA_DIR
    DATABASE_URL: str = ""
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1, le=200)
    # Connections of DBOS's own pool (its queue and step records), per process.
    DBOS_POOL_SIZE: int = Field(default=20, ge=2, le=200)
    # API requests (issue 10): how long a write waits for SQLite's write lock or PostgreSQL's
    # locks before answering 503 `database_busy`; reads never take SQLite's write lock.
    DATABASE_API_LOCK_TIMEOUT_MS: int = Field(default=2000, ge=0, le=60_000)
    # PostgreSQL: an API statement running longer is cancelled (503 `database_busy`).
    DATABASE_API_STATEMENT_TIMEOUT_MS: int = Field(default=15_000, ge=100, le=600_000)
    # Retry-After (seconds) on a 503 for a busy or read-only database.
    DATABASE_RETRY_AFTER_SECONDS: int = Field(default=1, ge=1, le=3600)
    # /readyz gives up on its database checks (reachable, migrations, a write) after this long.
    READYZ_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0, le=60)

    # --- security ------------------------------------------------------------------------
    TOKEN_ENCRYPTION_KEYS: SecretStr | None = None

    # --- logging -------------------------------------------------------------------------
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] = "json"

    # --- insights ------------------------------------------------------------------------
    FEATURE_FAKE_INSIGHTS: bool = False
    INSIGHTS_POLL_INTERVAL_HOURS: float = Field(default=6.0, gt=0, le=24 * 30)
    INSIGHTS_POLL_DECAY: bool = False
    INSIGHTS_MAX_AGE_DAYS: int = Field(default=90, ge=1, le=3650)
    INSIGHTS_SNAPSHOT_BUCKET_HOURS: float = Field(default=24.0, gt=0, le=24 * 31)
    INSIGHTS_FRESH_SECONDS: int = Field(default=900, ge=0, le=86400 * 7)
    INSIGHTS_SUMMARY_CACHE_SECONDS: float = Field(default=5.0, ge=0, le=300)
    INSIGHTS_POLL_TICK_SECONDS: int = Field(default=60, ge=1, le=3600)
    INSIGHTS_BATCH_SIZE: int = Field(default=50, ge=1, le=50)
    INSIGHTS_POSTS_PER_WORKFLOW: int = Field(default=500, ge=1, le=5000)
    INSIGHTS_ACCOUNT_CONCURRENCY: int = Field(default=2, ge=1, le=64)
    INSIGHTS_WORKER_CONCURRENCY: int = Field(default=8, ge=1, le=256)
    INSIGHTS_HTTP_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0, le=300)
    INSIGHTS_MAX_ATTEMPTS: int = Field(default=4, ge=1, le=20)
    INSIGHTS_QUEUE_POLL_SECONDS: float = Field(default=0.2, ge=0.01, le=60)

    # --- publishing ----------------------------------------------------------------------
    PUBLISH_TICK_SECONDS: int = Field(default=2, ge=1, le=60)
    PUBLISH_ACCOUNT_CONCURRENCY: int = Field(default=1, ge=1, le=16)
    PUBLISH_WORKER_CONCURRENCY: int = Field(default=16, ge=1, le=256)
    PUBLISH_QUEUE_POLL_SECONDS: float = Field(default=0.2, ge=0.01, le=60)
    PUBLISH_SETTLE_MINUTES: float = Field(default=10.0, gt=0, le=24 * 60)
    PUBLISH_RETRY_DEADLINE_MINUTES: float = Field(default=30.0, gt=0, le=7 * 24 * 60)
    PUBLISH_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=20)
    PUBLISH_RECONCILE_SECONDS: float = Field(default=15.0, gt=0, le=3600)
    PUBLISH_QUOTA_RECHECK_SECONDS: float = Field(default=900.0, gt=0, le=24 * 3600)
    # Media is prepared (uploads, Instagram containers) this long before `publish_at`, so the
    # post goes out at its time instead of after the platform's processing; 0: at the time.
    PUBLISH_PREPARE_AHEAD_SECONDS: float = Field(default=60.0, ge=0, le=24 * 3600)
    # Preparations (and reconciliations) at once per account, and per worker: they mostly
    # wait on the platform, so they do not hold the account's turn to post.
    PUBLISH_PREPARE_ACCOUNT_CONCURRENCY: int = Field(default=4, ge=1, le=64)
    PUBLISH_PREPARE_WORKER_CONCURRENCY: int = Field(default=64, ge=1, le=1024)
    # First wait before reading processing media's status again; it grows by half per read.
    PUBLISH_MEDIA_POLL_SECONDS: float = Field(default=1.0, gt=0, le=300)

    # --- background workers --------------------------------------------------------------
    WORKER_ID: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    # `serve` on SQLite runs the background work in a child process at this niceness (0-19):
    # under load the API's process gets the CPU first, the poller what is left.
    SERVE_WORKER_NICE: int = Field(default=10, ge=0, le=19)

    # --- Meta Graph API ------------------------------------------------------------------
    META_GRAPH_API_BASE: str = "https://graph.facebook.com"
    META_GRAPH_API_VERSION: str = Field(default="v25.0", pattern=r"^v\d{2,3}\.0$")
    META_APP_ID: str | None = None
    META_APP_SECRET: SecretStr | None = None
    META_MAX_REQUESTS_PER_SECOND: float = Field(default=200.0, gt=0, le=10_000)
    # Fair shares of Meta's app-wide budget (X-App-Usage): the least fraction of it each
    # workspace may use with user tokens (an equal part when more; docs/design/fair-quotas.md).
    META_APP_WORKSPACE_SHARE: float = Field(default=0.25, gt=0, le=1)
    META_INSIGHTS_FIELDS_FB: str | None = None
    IG_INSIGHTS_METRICS: str | None = None

    # --- LinkedIn ------------------------------------------------------------------------
    LINKEDIN_API_BASE: str = "https://api.linkedin.com"
    LINKEDIN_API_VERSION: str = Field(default="202610", pattern=r"^\d{6}$")
    LINKEDIN_CLIENT_ID: str | None = None
    LINKEDIN_CLIENT_SECRET: SecretStr | None = None
    LINKEDIN_STATS_FIELDS: str | None = None

    # --- media and publishing HTTP --------------------------------------------------------
    MEDIA_ALLOW_PRIVATE_URLS: bool = False
    MEDIA_MAX_IMAGE_BYTES: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024**3)
    MEDIA_MAX_VIDEO_BYTES: int = Field(default=500 * 1024 * 1024, ge=1024, le=10 * 1024**3)
    MEDIA_FETCH_TIMEOUT_SECONDS: float = Field(default=120.0, gt=0, le=3600)
    MEDIA_MAX_REDIRECTS: int = Field(default=5, ge=0, le=20)
    PUBLISH_HTTP_TIMEOUT_SECONDS: float = Field(default=120.0, gt=0, le=900)

    # --- API -----------------------------------------------------------------------------
    CORS_ORIGINS: Annotated[tuple[str, ...], NoDecode] = ()

    _normalize_csv = field_validator("CORS_ORIGINS", mode="before")(_split_csv)

    # --- request limits and rate limits (issue 10: app/routes/edge.py) --------------------
    # Bodies above this are refused with 413 before they are read (the API takes JSON only).
    MAX_REQUEST_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    # Request line and headers above this are refused with 431 (`postmeter serve` also stops
    # buffering a request's head past it).
    MAX_REQUEST_HEADER_BYTES: int = Field(default=16 * 1024, ge=4096, le=1024 * 1024)
    RATE_LIMIT_ENABLED: bool = True
    # memory:// (this process only) or redis://host:port/db (shared by every process).
    RATE_LIMIT_STORAGE_URL: str = "memory://"
    # Limits in the `limits` notation, several joined by ';' (e.g. "20/second;600/minute").
    RATE_LIMIT_PER_KEY: str = "1200/minute"
    RATE_LIMIT_FORCE_REFRESH: str = "10/minute"
    RATE_LIMIT_PER_ADDRESS: str = "60/minute"
    RATE_LIMIT_PUBLIC: str = "600/minute"

    @field_validator(
        "RATE_LIMIT_PER_KEY",
        "RATE_LIMIT_FORCE_REFRESH",
        "RATE_LIMIT_PER_ADDRESS",
        "RATE_LIMIT_PUBLIC",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError('must be limits like "60/minute" or "5/second;100/hour"') from None
        return value

    @field_validator("RATE_LIMIT_STORAGE_URL")
    @classmethod
    def _check_rate_limit_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("must be memory:// or a redis://, rediss:// or redis+unix:// URL")
        return value

    @field_validator("META_GRAPH_API_BASE", "LINKEDIN_API_BASE")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("DATABASE_URL")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value:
            backend = _parse_url(value).get_backend_name()
            if backend not in ("sqlite", "postgresql"):
                raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    # --- derived -------------------------------------------------------------------------
    @property
    def database_url(self) -> URL:
        """The URL as the user gave it (or the embedded default), driver-less."""
        if self.DATABASE_URL:
            return _parse_url(self.DATABASE_URL)
        return make_url(f"sqlite:///{(self.DATA_DIR / 'postmeter.sqlite').as_posix()}")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.get_backend_name() == "sqlite"

    @property
    def async_database_url(self) -> URL:
        url = self.database_url
        driver = "sqlite+aiosqlite" if self.is_sqlite else "postgresql+asyncpg"
        return url.set(drivername=driver)

    @property
    def sync_database_url(self) -> URL:
        """For tools that are synchronous (DBOS's system database, psql-like checks)."""
        url = self.database_url
        return url.set(drivername="sqlite" if self.is_sqlite else "postgresql+psycopg")

    @property
    def snapshot_bucket_seconds(self) -> int:
        return max(1, int(self.INSIGHTS_SNAPSHOT_BUCKET_HOURS * 3600))


def _parse_url(raw: str) -> URL:
    url = make_url(raw.replace("postgres://", "postgresql://", 1))
    # Users write plain URLs; we choose drivers ourselves, so drop any they named.
    return url.set(drivername=url.get_backend_name())


def format_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad setting, never echoing its value (it may be a secret)."""
    err = exc.errors()[0]
    name = ".".join(str(part) for part in err["loc"]) or "settings"
    return f"configuration error: {name}: {err['msg']}"


def load_settings() -> Settings:
    """Build Settings, turning validation errors into a one-line ConfigError."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except ValueError as exc:  # e.g. an unparseable URL raised by make_url
        raise ConfigError(f"configuration error: {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests clear the cache with `get_settings.cache_clear`."""
    return load_settings()
