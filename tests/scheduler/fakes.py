"""A fake platform and its publisher for engine tests: scripted faults per create call, and a
count of the posts the "platform" really created per target (what never-twice is about)."""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import OperationalError

from app.core.clock import utcnow
from app.core.vocabulary import Provider
from app.integrations.errors import (
    DuplicateError,
    OutcomeUnknownError,
    PolicyError,
    QuotaError,
    TokenError,
    TransientError,
)
from app.publishers.base import (
    ExternalRef,
    PostResult,
    Prepared,
    PublishRequest,
    Quota,
    ReadyState,
    Reconciled,
)


class Crash(BaseException):
    """The process dies here (nothing after it in the step runs, nothing is recorded)."""


@dataclass
class FakePlatform:
    # Per create call, in order: ok, refuse, token, transient, lost_created, lost_absent,
    # crash_after_create, duplicate, quota. Empty: ok.
    faults: deque[str] = field(default_factory=deque)
    # found / absent / inconclusive / auto (what was really created decides).
    reconcile_mode: str = "auto"
    ready_waits: int = 0
    # Preparations that fail as a dropped database connection would (not an answer).
    prepare_failures: int = 0
    # Status reads that find the media still processing, for posts with this text.
    ready_waits_by_text: dict[str, int] = field(default_factory=dict)
    # Posts with this text stay processing for as long as the text is in here.
    processing_held: set[str] = field(default_factory=set)
    # How many quota reads find the account's publishing quota used up (then: no quota).
    quota_exhausted_reads: int = 0
    quota_reads: int = 0
    created: dict[uuid.UUID, list[str]] = field(default_factory=lambda: defaultdict(list))
    # When each post was created (the platform's clock: now).
    created_at: dict[uuid.UUID, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    create_calls: int = 0
    prepare_calls: int = 0
    reconcile_calls: int = 0

    def posts(self, target_id: uuid.UUID) -> int:
        return len(self.created.get(target_id, []))

    def total_posts(self) -> int:
        return sum(len(v) for v in self.created.values())


class FakePublisher:
    def __init__(self, provider: Provider, platform: FakePlatform) -> None:
        self.provider = provider
        self.platform = platform
        self._waits: dict[uuid.UUID, int] = {}

    def _ref(self, external_id: str) -> ExternalRef:
        return ExternalRef(self.provider, external_id, url=f"https://example.test/{external_id}")

    async def prepare(self, req: PublishRequest) -> Prepared:
        self.platform.prepare_calls += 1
        if self.platform.prepare_failures > 0:
            self.platform.prepare_failures -= 1
            raise OperationalError("SELECT 1", None, ConnectionError("connection refused"))
        self._waits[req.target_id] = self.platform.ready_waits_by_text.get(
            req.text, self.platform.ready_waits
        )
        return {"container": f"c-{req.target_id}"}

    async def check_ready(self, req: PublishRequest, prepared: Prepared) -> ReadyState:
        assert prepared["container"] == f"c-{req.target_id}"
        if req.text in self.platform.processing_held:
            return ReadyState.waiting(0.01, "processing")
        left = self._waits.get(req.target_id, 0)
        if left > 0:
            self._waits[req.target_id] = left - 1
            return ReadyState.waiting(0.01, "processing")
        return ReadyState.ready()

    def _create_post(self, req: PublishRequest) -> str:
        posts = self.platform.created[req.target_id]
        external_id = f"{req.account_external_id}_{uuid.uuid4().int % 10**12}"
        posts.append(external_id)
        self.platform.created_at[req.target_id].append(utcnow())
        return external_id

    async def create(self, req: PublishRequest, prepared: Prepared) -> PostResult:
        assert req.token, "the publisher gets the decrypted token"
        self.platform.create_calls += 1
        fault = self.platform.faults.popleft() if self.platform.faults else "ok"
        if fault == "ok":
            return PostResult((self._ref(self._create_post(req)),))
        if fault == "refuse":
            raise PolicyError("(#368) deemed abusive", code=368, provider="meta")
        if fault == "token":
            raise TokenError("Error validating access token", code=190, provider="meta")
        if fault == "transient":
            raise TransientError("connect error: nothing sent", provider="meta")
        if fault == "duplicate":
            raise DuplicateError("(#506) Duplicate status message", code=506, provider="meta")
        if fault == "quota":
            raise QuotaError(
                "(#9) Application request limit reached",
                code=9,
                subcode=2207042,
                provider="instagram",
                scope="account",
            )
        if fault == "lost_created":
            self._create_post(req)
            raise OutcomeUnknownError("read timeout after sending", provider="meta")
        if fault == "lost_absent":
            raise OutcomeUnknownError("HTTP 500 from Graph API", http_status=500, provider="meta")
        if fault == "crash_after_create":
            self._create_post(req)
            raise Crash
        raise AssertionError(f"unknown fault {fault}")

    async def reconcile(self, req: PublishRequest, prepared: Prepared) -> Reconciled:
        self.platform.reconcile_calls += 1
        mode = self.platform.reconcile_mode
        posts = self.platform.created.get(req.target_id, [])
        if mode == "inconclusive":
            return Reconciled.inconclusive("listing failed")
        if mode == "auto":
            mode = "found" if posts else "absent"
        if mode == "found" and posts:
            return Reconciled.found(self._ref(posts[-1]))
        return Reconciled.absent("no post with this text since the attempt")

    async def quota(self, req: PublishRequest) -> Quota | None:
        self.platform.quota_reads += 1
        if self.platform.quota_exhausted_reads > 0:
            self.platform.quota_exhausted_reads -= 1
            return Quota(used=50, total=50, window_s=86_400)
        return None
