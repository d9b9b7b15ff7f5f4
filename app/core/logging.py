"""structlog setup: JSON (or console) logs, with a redaction step no token can get past.

Redaction works at two levels: values under secret-looking keys are masked whole, and every
string (event text, values, stdlib messages, exception text) is scrubbed of token shapes
(`access_token=...`, `Bearer ...`, our API keys, Fernet ciphertexts, `appsecret_proof=...`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

MASK = "***"

_SECRET_KEY = re.compile(
    r"(token|secret|password|authorization|api_key|apikey|appsecret_proof|client_secret|"
    r"cookie|fernet|encryption_key)",
    re.IGNORECASE,
)
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # query-string / form parameters that carry credentials
    (
        re.compile(
            r"(?<![a-z0-9_])((?:access_token|refresh_token|input_token|fb_exchange_token|"
            r"client_secret|appsecret_proof|oauth_token|code)(?:=|%3D))[^&\s\"'<>]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"\bpm_[0-9a-f]{16}_[A-Za-z0-9_-]+"), "pm_" + MASK),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), MASK),  # Fernet ciphertext
    (re.compile(r"\bEAA[A-Za-z0-9]{16,}"), MASK),  # Meta access tokens
    (re.compile(r"\bAQ[A-Za-z0-9_-]{40,}"), MASK),  # LinkedIn access / refresh tokens
    # JSON-ish "access_token": "..." inside an echoed body
    (
        re.compile(
            r"(\"(?:access_token|refresh_token|appsecret_proof|client_secret)\"\s*:\s*\")[^\"]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
)


def scrub(text: str) -> str:
    """Remove anything shaped like a credential from free text."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", MASK):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(None, v) for v in value]
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and scrub token shapes everywhere."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key if key != "event" else None, event_dict[key])
    return event_dict


# Loggers silenced in the current context (`quieted`): a context variable, so one task's
# quiet does not silence the same logger in another (a migration running beside a probe).
_QUIETED: ContextVar[frozenset[str]] = ContextVar("postmeter_quieted_loggers", default=frozenset())


class _QuietFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name not in _QUIETED.get()


_QUIET_FILTER = _QuietFilter()


@contextmanager
def quieted(*names: str) -> Iterator[None]:
    """Drop the records these loggers emit below WARNING in this context (e.g. alembic's two
    INFO lines per migration context, which a probe would print on every call)."""
    for name in names:
        logging.getLogger(name).addFilter(_QUIET_FILTER)  # once: addFilter ignores repeats
    token = _QUIETED.set(_QUIETED.get() | frozenset(names))
    try:
        yield
    finally:
        _QUIETED.reset(token)


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Configure structlog and route the stdlib loggers (uvicorn, httpx, alembic) through it."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; Graph URLs may carry tokens, so keep it quiet.
    for noisy in ("httpx", "httpcore", "hpack", "dbos", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
