"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.account import SocialAccount
from app.models.base import Base
from app.models.enums import (
    AccountStatus,
    AttemptPhase,
    ErrorKind,
    ExternalStatus,
    MetricsSource,
    Provider,
    ScheduleStatus,
    SettledBy,
    TargetState,
)
from app.models.external_refs import ScheduleExternal
from app.models.health import ReadinessHeartbeat
from app.models.poll_state import AppQuotaUsage, MetricRejection, ThrottleState
from app.models.post_metrics import METRIC_FIELDS, PostMetrics
from app.models.publishing import PublishAttempt
from app.models.schedule import Schedule, ScheduleTarget
from app.models.schedule_metrics import ScheduleMetrics
from app.models.workspace import ApiKey, Workspace

__all__ = [
    "METRIC_FIELDS",
    "AccountStatus",
    "ApiKey",
    "AppQuotaUsage",
    "AttemptPhase",
    "Base",
    "ErrorKind",
    "ExternalStatus",
    "MetricRejection",
    "MetricsSource",
    "PostMetrics",
    "Provider",
    "PublishAttempt",
    "ReadinessHeartbeat",
    "Schedule",
    "ScheduleExternal",
    "ScheduleMetrics",
    "ScheduleStatus",
    "ScheduleTarget",
    "SettledBy",
    "SocialAccount",
    "TargetState",
    "ThrottleState",
    "Workspace",
]
