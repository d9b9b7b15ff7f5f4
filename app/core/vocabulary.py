"""Words the integrations, storage and API share (core, so integrations need nothing else)."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    """A platform Postmeter talks to; each has one home in `app.integrations.platforms`."""

    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    LINKEDIN = "linkedin"


class MetricsSource(StrEnum):
    """Where a snapshot's numbers came from (`fake`: generated, never real)."""

    META = "meta"
    LINKEDIN = "linkedin"
    FAKE = "fake"
