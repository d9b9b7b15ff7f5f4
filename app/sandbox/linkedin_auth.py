"""LinkedIn request checks: version headers, bearer token, scopes and daily quotas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.sandbox.entities import LINKEDIN, LinkedInMember, Token
from app.sandbox.linkedin_errors import LinkedInError, access_denied, bad_request
from app.sandbox.state import SandboxState


@dataclass(slots=True)
class LinkedInCaller:
    token: Token
    member: LinkedInMember
    version: str  # "202511"

    def has(self, scope: str) -> bool:
        return scope in self.token.scopes

    def require(self, scope: str, resource: str, method: str) -> None:
        if scope not in self.token.scopes:
            raise access_denied(resource, method, self.version)

    def admin_of(self, org_id: str) -> bool:
        return org_id in self.member.admin_of


def check_version(state: SandboxState, headers: dict[str, str]) -> str:
    """``LinkedIn-Version: YYYYMM`` must be present and active (about a year back)."""
    raw = headers.get("linkedin-version")
    if not raw:
        raise LinkedInError(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version "
            "header.",
        )
    version = raw.strip().split(".", 1)[0]
    if len(version) != 6 or not version.isdigit() or not 1 <= int(version[4:]) <= 12:
        raise LinkedInError(400, "INVALID_VERSION", f"Invalid version format {raw}")
    now = datetime.fromtimestamp(state.now(), tz=UTC)
    months_old = (now.year * 12 + now.month) - (int(version[:4]) * 12 + int(version[4:]))
    if months_old < 0 or months_old > state.settings.linkedin_version_max_age_months:
        raise LinkedInError(426, "NONEXISTENT_VERSION", f"Requested version {raw} is not active")
    if headers.get("x-restli-protocol-version") != "2.0.0":
        raise bad_request(
            "This API needs the header X-Restli-Protocol-Version: 2.0.0", "INVALID_PROTOCOL_VERSION"
        )
    return version


def authenticate(state: SandboxState, authorization: str | None, version: str) -> LinkedInCaller:
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise LinkedInError(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
    token = state.tokens.get(value)
    if token is None or token.platform != LINKEDIN:
        raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    if token.revoked or token.invalid_subcode is not None:
        raise LinkedInError(
            401,
            "REVOKED_ACCESS_TOKEN",
            "The token used in the request has been revoked by the user",
            65601,
        )
    if token.expires_at is not None and token.expires_at <= state.now():
        raise LinkedInError(
            401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602
        )
    member = state.li_members.get(token.subject_id)
    if member is None:
        raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    return LinkedInCaller(token, member, version)


def count_call(state: SandboxState, caller: LinkedInCaller) -> None:
    app = state.apps.get(caller.token.app_id)
    over = state.usage.linkedin_call(
        quotas=state.quotas,
        overrides=app.quotas if app else {},
        now=state.now(),
        app_id=caller.token.app_id,
        member_id=caller.member.id,
    )
    if over is not None:
        state.counters.bump("throttled", f"linkedin {over}")
        # As LinkedIn's documented throttle body: status, serviceErrorCode and message only.
        raise LinkedInError(
            429,
            None,
            f"Resource level throttle {over} DAY limit for calls to this resource is reached.",
            101,
        )
