"""Publishing faults: what peer tools meet in production when they create posts.

Request-level faults (``faults.py``) fire *before* the emulator runs, so nothing is created.
These fire *inside* a publishing flow, where the platform has already decided, so a client can
meet the cases that make publishing hard:

- ``lost_reply``: the post **is created**, then the reply is lost — an HTTP 5xx (``mode
  5xx``), a connection closed after the headers (``reset``), or the real reply sent only after
  ``delay_ms`` (``timeout``: longer than the client waits);
- ``error_after_create``: the post is created and the reply is a Graph error, by default
  code 4 / subcode 2207051 (postiz-app PR #1681: Instagram answered "blocked" while the post
  was live);
- ``duplicate``: the create is refused as duplicate content (Facebook 506, LinkedIn 422
  ``DUPLICATE_POST`` naming the author's latest post) and nothing is created;
- ``policy``: Facebook refuses the post with code 368;
- ``slow_processing``: an Instagram container or a LinkedIn image/video takes ``delay_ms``
  longer to become ready;
- ``processing_error``: it ends ``ERROR`` (Instagram, ``subcode`` in ``status``) or
  ``PROCESSING_FAILED`` (LinkedIn);
- ``media_fetch_error``: Meta cannot download a media URL matching ``url`` (Instagram code
  -2 / 2207003, Facebook 324).

A rule matches a platform (``facebook``/``instagram``/``linkedin``, or any) and an account
(page id, Instagram user id, organization or member id/URN, or any), and fires with
probability ``rate`` for at most ``count`` matching events; a ``seed`` makes its draws repeat.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from app.sandbox.faults import RuleBook

PublishFaultKind = Literal[
    "lost_reply",
    "error_after_create",
    "duplicate",
    "policy",
    "slow_processing",
    "processing_error",
    "media_fetch_error",
]
LostMode = Literal["5xx", "reset", "timeout"]
PublishPlatform = Literal["facebook", "instagram", "linkedin"]
PUBLISH_FAULT_KINDS: tuple[str, ...] = get_args(PublishFaultKind)
LOST_MODES: tuple[str, ...] = get_args(LostMode)
PLATFORMS: tuple[str, ...] = get_args(PublishPlatform)
# Which platforms each kind can apply to (what the real platforms can do).
_KIND_PLATFORMS = {
    "lost_reply": PLATFORMS,
    "error_after_create": ("facebook", "instagram"),
    "duplicate": ("facebook", "linkedin"),
    "policy": ("facebook",),
    "slow_processing": ("instagram", "linkedin"),
    "processing_error": ("instagram", "linkedin"),
    "media_fetch_error": ("facebook", "instagram"),
}
# Events where a publishing flow asks for a fault, and the kinds each event can fire.
CREATE = ("lost_reply", "error_after_create", "duplicate", "policy")
PROCESSING = ("slow_processing", "processing_error")
MEDIA_FETCH = ("media_fetch_error",)


def account_id(value: str) -> str:
    """Account ids compare without their URN prefix (``urn:li:organization:7`` is ``7``)."""
    return value.rsplit(":", 1)[-1] if value.startswith("urn:") else value


@dataclass(slots=True)
class PublishFaultRule:
    id: int
    kind: str
    platform: str | None = None
    account: str | None = None
    rate: float = 1.0
    remaining: int | None = None
    seed: int | None = None
    mode: str = "5xx"  # lost_reply
    status: int = 500  # lost_reply mode 5xx
    delay_ms: int = 0  # timeout: the wait before the real reply; slow_processing: extra time
    code: int | None = None  # error_after_create (default 4)
    subcode: int | None = None  # error_after_create (2207051), processing_error (2207026)
    message: str | None = None
    url: str | None = None  # media_fetch_error: glob on the media URL
    fired: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in PUBLISH_FAULT_KINDS:
            raise ValueError(f"publish fault kind must be one of {', '.join(PUBLISH_FAULT_KINDS)}")
        allowed = _KIND_PLATFORMS[self.kind]
        if self.platform is not None and self.platform not in allowed:
            raise ValueError(f"{self.kind} applies to {', '.join(allowed)} only")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        if self.mode not in LOST_MODES:
            raise ValueError(f"lost_reply mode must be one of {', '.join(LOST_MODES)}")
        if self.kind == "lost_reply" and self.mode == "5xx" and not 500 <= self.status <= 599:
            raise ValueError("a lost reply answered as 5xx needs a status within 500..599")
        if self.remaining is not None and self.remaining < 0:
            raise ValueError("count must be >= 0")
        if self.delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")
        if self.kind == "lost_reply" and self.mode == "timeout" and self.delay_ms == 0:
            self.delay_ms = 30_000  # longer than any client's read timeout should be
        if self.account is not None:
            self.account = account_id(self.account)
        self._rng = random.Random(self.seed)  # noqa: S311 - not crypto

    def matches(self, kinds: tuple[str, ...], platform: str, account: str, url: str | None) -> bool:
        if self.kind not in kinds:
            return False
        if platform not in _KIND_PLATFORMS[self.kind]:
            return False
        if self.platform is not None and self.platform != platform:
            return False
        if self.account is not None and self.account != account_id(account):
            return False
        if self.url is not None and (url is None or not fnmatch.fnmatchcase(url, self.url)):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "platform": self.platform,
            "account": self.account,
            "rate": self.rate,
            "remaining": self.remaining,
            "seed": self.seed,
            "mode": self.mode,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "code": self.code,
            "subcode": self.subcode,
            "message": self.message,
            "url": self.url,
            "fired": self.fired,
        }


class PublishFaults(RuleBook[PublishFaultRule]):
    """The publishing fault rules, checked in order; the first that fires wins."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(PublishFaultRule)

    def draw(
        self, kinds: tuple[str, ...], platform: str, account: str, *, url: str | None = None
    ) -> PublishFaultRule | None:
        """The rule that fires for this event, if any (it is counted as fired)."""
        return self.first_firing(r for r in self.rules if r.matches(kinds, platform, account, url))


class LostReply(Exception):  # noqa: N818 - it names what happens to the reply
    """Raised by an emulator *after* it created a post: the HTTP layer loses ``reply``."""

    def __init__(self, rule: PublishFaultRule, reply: tuple[int, Any, dict[str, str]]) -> None:
        super().__init__(f"sandbox fault: reply lost after creating ({rule.mode})")
        self.rule = rule
        self.reply = reply
