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
    "AttemptPhase",
    "ScheduleStatus",
    "SettledBy",
    "TargetState",
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


class TargetState(StrEnum):
    """One target of a schedule on its way to the platform (`unknown` is final: never retried
    automatically, the post may exist)."""

    PENDING = "pending"
    PUBLISHING = "publishing"
    POSTED = "posted"
    FAILED = "failed"
    UNKNOWN = "unknown"


class AttemptPhase(StrEnum):
    """Where one publish attempt stands. `calling` is the durable intent: it is written before
    the irreversible create call, so a crash after it means "reconcile", never "call again"."""

    PREPARING = "preparing"
    READY = "ready"
    CALLING = "calling"
    CREATED = "created"
    FAILED = "failed"
    UNKNOWN = "unknown"
    ABSENT = "absent"


class SettledBy(StrEnum):
    """How an attempt's outcome became known."""

    REPLY = "reply"
    RECONCILE_FOUND = "reconcile_found"
    RECONCILE_ABSENT = "reconcile_absent"
    RECONCILE_INCONCLUSIVE = "reconcile_inconclusive"
    DEADLINE = "deadline"
