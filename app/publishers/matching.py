"""Deciding from an account's recent posts whether our post exists (reconciliation).

A post matches when its text is exactly the text we sent (surrounding whitespace aside) and it
was created since the attempt started (less a clock margin). One match is FOUND; several are
INCONCLUSIVE (we cannot tell which is ours, and guessing could bind someone else's post); none
is ABSENT only once the listing has had time to show the post and was read to the end of the
window — the platforms document no listing lag (research Q1, Q2), so until then it is
INCONCLUSIVE and the engine looks again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.clock import utcnow
from app.publishers.base import ExternalRef, PublishRequest, Reconciled

# Platform clocks and ours differ; a post created just before our clock said "started" counts.
CREATED_MARGIN = timedelta(minutes=2)
# How long after the create call a post must be listed before "not listed" means "absent".
LISTING_GRACE = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A post the platform listed: its ref, its text, when it was created."""

    ref: ExternalRef
    texts: tuple[str, ...]  # the text as listed (and any decoded form of it)
    created_at: datetime | None


def window_start(req: PublishRequest) -> datetime:
    """The oldest creation time a post of this attempt can have."""
    return req.attempt_started_at - CREATED_MARGIN


def judge(
    candidates: Iterable[Candidate],
    *,
    text: str,
    req: PublishRequest,
    complete: bool,
    now: datetime | None = None,
) -> Reconciled:
    """FOUND / ABSENT / INCONCLUSIVE for `text` among `candidates`.

    `complete`: the listing was read back to before the window (nothing older unread).
    """
    wanted = text.strip()
    since = window_start(req)
    matches = [
        c
        for c in candidates
        if c.created_at is not None
        and c.created_at >= since
        and any(t.strip() == wanted for t in c.texts)
    ]
    if len(matches) == 1:
        return Reconciled.found(matches[0].ref, "found among the account's recent posts")
    if matches:
        return Reconciled.inconclusive(
            f"{len(matches)} recent posts have this text; cannot tell which one is this attempt's"
        )
    if not complete:
        return Reconciled.inconclusive("too many recent posts to read back to the attempt")
    sent = req.create_sent_at or req.attempt_started_at
    if (now or utcnow()) - sent < LISTING_GRACE:
        return Reconciled.inconclusive("not listed yet; the platform's listing may lag")
    return Reconciled.absent(f"no post with this text created since {since.isoformat()}")
