"""How long a post waits for an account's publishing quota (Instagram's rolling window).

The platform says how many posts the window holds and how many it has used, not when the
next slot frees: the oldest post in the window ages out then, and only Postmeter's own posts
have a known time (posts made elsewhere count too). So the wait ends at the earliest of the
next re-read (`PUBLISH_QUOTA_RECHECK_SECONDS`) and the moment Postmeter's oldest post in the
window ages out, never before a time the platform named, and the quota is read again then.

Bounded: an attempt that is still refused two windows after it started fails, with the
reason, rather than waiting for ever (a retry through the API starts a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from app.core.clock import utcnow
from app.core.runtime import Runtime
from app.models import ErrorKind, Provider
from app.services import publish_quota
from app.services.publish_attempts import AttemptKey, Failure
from app.services.publish_claims import PublishInput

log = structlog.get_logger(__name__)

DEFAULT_WINDOW_S = 86_400  # Instagram's documented window, when a refusal is all we have
WINDOWS_BEFORE_GIVING_UP = 2
# After a post's window ends, a margin for the platform's clock and its count to agree.
AGE_OUT_MARGIN = timedelta(seconds=30)
MIN_WAIT = timedelta(seconds=1)
_NAMES = {
    Provider.INSTAGRAM: "Instagram",
    Provider.FACEBOOK: "Facebook",
    Provider.LINKEDIN: "LinkedIn",
}


@dataclass(frozen=True, slots=True)
class QuotaWait:
    """`until` when to read the quota again, or None to give up (`failure` says why, or what
    the attempt waits for)."""

    failure: Failure
    until: datetime | None = None
    wait_s: float = 0.0


def platform_name(provider: Provider) -> str:
    return _NAMES.get(provider, provider.value)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def plan_quota_wait(
    *,
    provider: Provider,
    why: str,
    now: datetime,
    attempt_started_at: datetime,
    window_s: float,
    oldest_own_post: datetime | None,
    recheck_s: float,
    retry_after: datetime | None = None,
    code: str | None = None,
) -> QuotaWait:
    """When to look again for an attempt whose quota is used up (`why` says how)."""
    window = timedelta(seconds=window_s)
    give_up_at = attempt_started_at + WINDOWS_BEFORE_GIVING_UP * window
    name = platform_name(provider)
    if now >= give_up_at:
        message = (
            f"{name}'s publishing quota stayed used up for "
            f"{_hours(WINDOWS_BEFORE_GIVING_UP * window_s)} after the attempt started ({why}); "
            "not retried automatically: retry the target once the account has room"
        )
        return QuotaWait(Failure(ErrorKind.QUOTA, message, code))
    until = now + timedelta(seconds=recheck_s)
    if oldest_own_post is not None:
        until = min(until, oldest_own_post + window + AGE_OUT_MARGIN)
    if retry_after is not None:
        until = max(until, retry_after)  # the platform's own word: not before then
    until = min(max(until, now + MIN_WAIT), give_up_at)
    message = f"waiting for {name}'s publishing quota until {until:%Y-%m-%d %H:%M:%S} UTC ({why})"
    return QuotaWait(Failure(ErrorKind.QUOTA, message, code), until, (until - now).total_seconds())


class QuotaGate:
    """Plans an attempt's wait for the quota and records it (the attempt stays READY)."""

    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.settle = timedelta(minutes=s.PUBLISH_SETTLE_MINUTES)
        self.retry_deadline = timedelta(minutes=s.PUBLISH_RETRY_DEADLINE_MINUTES)
        self.recheck_s = s.PUBLISH_QUOTA_RECHECK_SECONDS

    async def wait(
        self,
        key: AttemptKey,
        inp: PublishInput,
        why: str,
        *,
        window_s: float,
        retry_after: datetime | None = None,
        code: str | None = None,
    ) -> QuotaWait | None:
        """The wait, recorded on the attempt and its target (a give-up is left to the caller,
        which fails the target); None when the attempt is no longer READY."""
        now = utcnow()
        async with self.runtime.sessionmaker() as session, session.begin():
            oldest = await publish_quota.oldest_post_in_window(
                session, inp.account_id, since=now - timedelta(seconds=window_s)
            )
            wait = plan_quota_wait(
                provider=inp.request.provider,
                why=why,
                now=now,
                attempt_started_at=inp.request.attempt_started_at,
                window_s=window_s,
                oldest_own_post=oldest,
                recheck_s=self.recheck_s,
                retry_after=retry_after,
                code=code,
            )
            if wait.until is None:
                return wait
            if not await publish_quota.note_quota_wait(
                session,
                key,
                wait.failure,
                settle_by=wait.until + self.settle,
                retry_until=wait.until + self.retry_deadline,
            ):
                return None
        log.info("publish.quota_wait", target_id=str(key.target_id), until=wait.until.isoformat())
        return wait
