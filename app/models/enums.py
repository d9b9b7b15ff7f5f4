"""Vocabulary shared by models, schemas and services."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    LINKEDIN = "linkedin"


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


class MetricsSource(StrEnum):
    META = "meta"
    LINKEDIN = "linkedin"
    FAKE = "fake"
