"""The one vocabulary of error kinds: raised by the integrations (`PlatformError.kind`), stored in
`schedule_external.last_error_kind`, counted in the summary's `errors_by_kind` and returned as a
fetch result's `error_kind`.

Adding a kind is a change here only: the column keeps no CHECK constraint on these values
(see `app.models.external_refs`), so no migration is needed for a new member. Renaming or
removing one needs a migration that rewrites the stored values.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a post's metrics could not be fetched (or a platform call failed)."""

    TRANSIENT = "transient"
    """May succeed later (5xx, timeouts, an unfinished batch item); retried with backoff."""
    THROTTLED = "throttled"
    """Rate limited; retried when the platform says (or its quota resets)."""
    RECONNECT_REQUIRED = "reconnect_required"
    """The account's token is expired, revoked, invalid or unreadable: reconnect the account."""
    ACCOUNT_DISCONNECTED = "account_disconnected"
    """The post's account was removed or disabled: no longer polled."""
    PERMISSION = "permission"
    """The token lacks a permission or role for this object."""
    NOT_FOUND = "not_found"
    """The platform said the object does not exist (Graph says so for missing permissions too)."""
    DELETED = "deleted"
    """Not found several times in a row: taken for deleted, no longer polled."""
    NO_DATA = "no_data"
    """The platform answered but has no statistics for this post (too old, not owned)."""
    INVALID_METRIC = "invalid_metric"
    """A requested metric is retired or unsupported for this media type."""
    REJECTED = "rejected"
    """Any other request the platform refused (bad parameter, ...); not retried as is."""
    API_VERSION_INACTIVE = "api_version_inactive"
    """The platform does not serve the API version the settings pin (LinkedIn 426
    NONEXISTENT_VERSION): the operator sets an active version; the account and post are fine."""
    REAL_DATA_EXISTS = "real_data_exists"
    """Fake metrics were not generated because real ones exist for the schedule."""
    STORAGE = "storage"
    """The metrics were fetched (or the fetch was due) but Postmeter's database refused to
    store them (read-only, full, unreachable): the post is due again at once, nothing is lost
    on the platform's side."""

    # --- publishing (a post could not be created) ---
    POLICY = "policy"
    """The platform refused the post under its policies (Graph 368: abusive or disallowed)."""
    DUPLICATE = "duplicate"
    """The platform refused the text as a duplicate (Graph 506, LinkedIn 422 DUPLICATE_POST).
    On a retry this is evidence an earlier attempt created the post: reconcile first."""
    SPAM = "spam"
    """Blocked as spam (Instagram code 4 / subcode 2207051). May follow a create that did
    publish (research: Postiz PR #1681): reconcile first."""
    QUOTA = "quota"
    """The account's publishing quota is used up (Instagram code 9 / 2207042): wait for the
    window."""
    MEDIA = "media"
    """A media file could not be fetched, had the wrong type or size, or failed processing."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """The create request may have reached the platform and no answer came (timeout, reset,
    5xx, malformed reply): reconciled before anything else."""
