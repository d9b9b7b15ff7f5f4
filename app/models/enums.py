"""Vocabulary shared by models, schemas and services (the platform words live in app.core)."""

from __future__ import annotations

from enum import StrEnum

from app.core.error_kinds import ErrorKind
from app.core.vocabulary import MetricsSource, Provider

__all__ = [
    "AccountStatus",
    "ErrorKind",
    "ExternalStatus",
    "MetricsSource",
    "Provider",
    "ScheduleStatus",
]


class AccountStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    RECONNECT_REQUIRED = "reconnect_required"
    DISABLED = "disabled"


class ScheduleStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    POSTED = "posted"
    PARTIALLY_POSTED = "partially_posted"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExternalStatus(StrEnum):
    LIVE = "live"
    DELETED = "deleted"
