"""The publisher interface: what the publishing engine asks of a platform to create one post.

No platform offers an idempotency key, so a publish is split where it can be redone and where
it cannot:

- ``prepare`` — uploads, Instagram containers, unpublished Facebook photos. Invisible to
  followers, so redoing it (after a crash, on a re-executed step) is safe. Its result
  (`Prepared`) is JSON-safe: the engine stores it with the attempt and hands it back.
- ``check_ready`` — is the prepared media processed (Instagram container ``FINISHED``,
  LinkedIn video ``AVAILABLE``)? The engine sleeps durably between reads.
- ``create`` — THE irreversible call. Called at most once per attempt, never retried inside a
  publisher. It returns the post's ids, or raises:

  * `OutcomeUnknownError` — the request may have reached the platform and no usable answer
    came (read timeout, connection lost after sending, 5xx, malformed 2xx). Reconcile.
  * `TransientError` (incl. `ThrottledError`, `QuotaError`) — the request was not sent
    (connect error, connect/pool timeout) or the platform refused it in a way that is safe to
    send again (throttling, Instagram ``is_transient``, a container not yet ready). Retry with
    backoff.
  * `PublishRefusedError` with ``may_mean_posted`` (`DuplicateError`, `SpamError`) — a
    refusal that is known to follow a create that did publish: reconcile; FOUND -> posted,
    ABSENT -> fail with this error, INCONCLUSIVE -> unknown.
  * any other `PermanentError` (`TokenError`, `PlatformPermissionError`, `PolicyError`,
    `MediaError`, `InvalidRequestError`) — refused for good: fail the target with its message.

- ``reconcile`` — after an unknown outcome: is the post on the platform? `Reconciled` says
  FOUND (with its ref), ABSENT (proven: a new attempt may be made) or INCONCLUSIVE.
- ``quota`` — the account's publishing allowance read live (Instagram); ``None`` where the
  platform publishes none.

`store_external_reference` records a created post in ``schedule_external`` so the insights
poller fetches it from that moment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.errors import PlatformError
from app.models.enums import ExternalStatus
from app.models.external_refs import ScheduleExternal

__all__ = [
    "ExternalRef",
    "PostResult",
    "Prepared",
    "PublishRequest",
    "Publisher",
    "Quota",
    "ReadyState",
    "ReadyStatus",
    "ReconcileOutcome",
    "Reconciled",
    "external_values",
    "store_external_reference",
]

# What `prepare` made (container ids, image URNs, unpublished photo ids, media metadata):
# JSON-safe and safe to redo, stored with the attempt and handed back to the later steps.
Prepared = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExternalRef:
    """One platform post a publish created: what the insights poller tracks."""

    provider: Provider
    external_id: str  # in the shape the platform home's `post_id` rule accepts
    url: str | None = None
    published_at: datetime | None = None  # the platform's time when it said; else None


@dataclass(frozen=True, slots=True)
class PostResult:
    """What a successful ``create`` made (one ref today; a tuple for multi-post kinds)."""

    external_refs: tuple[ExternalRef, ...]

    @property
    def primary(self) -> ExternalRef:
        """The post the target records as its own."""
        return self.external_refs[0]


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """Everything a publisher needs for one target; no ORM objects, safe to pass to a step."""

    target_id: uuid.UUID
    provider: Provider
    account_external_id: str  # page id, Instagram user id, organization/person URN
    token: str = field(repr=False)
    text: str
    link: str | None
    media_urls: tuple[str, ...]
    attempt_started_at: datetime  # reconciliation looks for posts created since then
    # When this attempt's create call was sent (the attempt's ``call_started_at``), if it was:
    # reconcile only calls a post "absent" once the platform's listing has had time to show
    # it, counted from here (from ``attempt_started_at`` when unset).
    create_sent_at: datetime | None = None


class ReadyStatus(StrEnum):
    READY = "ready"
    """Prepared media is processed: ``create`` may be called."""
    WAITING = "waiting"
    """Still processing: read again after ``retry_after_s``."""
    FAILED = "failed"
    """Processing failed (``error`` says why). A transient ``error`` (e.g. Instagram 2207001
    "try again", an expired container) means: prepare again; a permanent one fails the target."""
    PUBLISHED = "published"
    """The platform says this preparation is already published (Instagram container
    ``PUBLISHED``): never call ``create``; reconcile to find the post."""


@dataclass(frozen=True, slots=True)
class ReadyState:
    """The answer of ``check_ready``; build it with the class methods."""

    status: ReadyStatus
    retry_after_s: float = 0.0
    error: PlatformError | None = None
    detail: str = ""

    @classmethod
    def ready(cls) -> ReadyState:
        return cls(ReadyStatus.READY)

    @classmethod
    def waiting(cls, retry_after_s: float, detail: str = "") -> ReadyState:
        return cls(ReadyStatus.WAITING, retry_after_s=retry_after_s, detail=detail)

    @classmethod
    def failed(cls, error: PlatformError) -> ReadyState:
        return cls(ReadyStatus.FAILED, error=error, detail=error.message)

    @classmethod
    def published(cls, detail: str = "") -> ReadyState:
        return cls(ReadyStatus.PUBLISHED, detail=detail)


class ReconcileOutcome(StrEnum):
    FOUND = "found"
    """The post exists: ``ref`` is it. Record the target posted."""
    ABSENT = "absent"
    """Proven not created: a new attempt may be made."""
    INCONCLUSIVE = "inconclusive"
    """Cannot tell (listing failed, several candidates, platform cannot list): check again
    later, and settle the target ``unknown`` at the deadline; never retried automatically."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The answer of ``reconcile``; build it with the class methods."""

    outcome: ReconcileOutcome
    ref: ExternalRef | None = None
    reason: str = ""

    @classmethod
    def found(cls, ref: ExternalRef, reason: str = "") -> Reconciled:
        return cls(ReconcileOutcome.FOUND, ref=ref, reason=reason)

    @classmethod
    def absent(cls, reason: str) -> Reconciled:
        return cls(ReconcileOutcome.ABSENT, reason=reason)

    @classmethod
    def inconclusive(cls, reason: str) -> Reconciled:
        return cls(ReconcileOutcome.INCONCLUSIVE, reason=reason)


@dataclass(frozen=True, slots=True)
class Quota:
    """An account's publishing allowance as the platform reports it now (Instagram)."""

    used: int
    total: int
    window_s: int  # the rolling window the total applies to

    @property
    def remaining(self) -> int:
        return max(self.total - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.total


class Publisher(Protocol):
    """One platform's publishing (see the module docstring for the contract of each step)."""

    @property
    def provider(self) -> Provider: ...

    async def prepare(self, req: PublishRequest) -> Prepared:
        """Redo-safe preparation: fetch/upload media, create containers or unpublished photos."""
        ...

    async def check_ready(self, req: PublishRequest, prepared: Prepared) -> ReadyState:
        """Whether the prepared media may be published now (one status read, no sleeping)."""
        ...

    async def create(self, req: PublishRequest, prepared: Prepared) -> PostResult:
        """The irreversible create call, sent once; raises the typed errors listed above."""
        ...

    async def reconcile(self, req: PublishRequest, prepared: Prepared) -> Reconciled:
        """Look the post up after an unknown outcome; never creates anything."""
        ...

    async def quota(self, req: PublishRequest) -> Quota | None:
        """The account's publishing quota read live; ``None`` when the platform has none."""
        ...


def external_values(
    *,
    schedule_id: uuid.UUID,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID | None,
    provider: Provider,
    external_id: str,
    url: str | None,
    published_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a newly tracked ``schedule_external`` row (published or imported):
    due at once, so the poller fetches the young post on its next tick."""
    return {
        "schedule_id": schedule_id,
        "workspace_id": workspace_id,
        "provider": provider,
        "account_id": account_id,
        "external_id": external_id,
        "url": url,
        "published_at": published_at,
        "next_fetch_at": now,
    }


async def store_external_reference(
    session: AsyncSession,
    *,
    schedule_id: uuid.UUID,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    ref: ExternalRef,
) -> ScheduleExternal:
    """Track the post `ref` as the schedule's post on its provider (flushes, never commits).

    One row per (schedule, provider): an existing row (a retried record step, an earlier
    attempt recorded with a container id) is updated to this post and made due at once.
    The caller holds the attempt's compare-and-set, so no other writer races for the row.
    """
    now = utcnow()
    values = external_values(
        schedule_id=schedule_id,
        workspace_id=workspace_id,
        account_id=account_id,
        provider=ref.provider,
        external_id=ref.external_id,
        url=ref.url,
        published_at=ref.published_at or now,
        now=now,
    )
    row = await session.scalar(
        select(ScheduleExternal).where(
            ScheduleExternal.schedule_id == schedule_id,
            ScheduleExternal.provider == ref.provider,
        )
    )
    if row is None:
        row = ScheduleExternal(**values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        # A different post now: what was learnt polling the old id no longer applies.
        row.last_error_kind = None
        row.last_error = None
        row.consecutive_failures = 0
        row.media_type = None
        row.status = ExternalStatus.LIVE
    await session.flush()
    return row
