"""Token, code and app-token operations of :class:`~app.sandbox.state.SandboxState`."""

from __future__ import annotations

from app.sandbox.entities import (
    KIND_MEMBER,
    KIND_PAGE,
    KIND_USER,
    LINKEDIN,
    META,
    SUBCODE_PASSWORD_CHANGED,
    App,
    AuthCode,
    LinkedInMember,
    RefreshToken,
    Token,
)
from app.sandbox.ids import IdFactory

DAY = 86_400.0
META_USER_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "read_insights",
    "business_management",
    "instagram_basic",
    "instagram_manage_insights",
    "instagram_content_publish",
)
LINKEDIN_MEMBER_SCOPES = ("openid", "profile", "w_member_social", "r_member_postAnalytics")
LINKEDIN_ADMIN_SCOPES = ("rw_organization_admin", "r_organization_social", "w_organization_social")
META_LONG_LIVED = 60 * DAY
LINKEDIN_ACCESS_TTL = 60 * DAY
LINKEDIN_REFRESH_TTL = 365 * DAY


class TokenOps:
    """Issuing, expiring and revoking tokens; mixed into the state (which owns the data)."""

    ids: IdFactory
    tokens: dict[str, Token]
    refresh_tokens: dict[str, RefreshToken]
    codes: dict[str, AuthCode]
    page_token_index: dict[tuple[str, str, str], str]
    li_members: dict[str, LinkedInMember]

    def now(self) -> float:
        raise NotImplementedError

    def touch(self) -> None:
        raise NotImplementedError

    def app_for(self, platform: str, app_id: str | None) -> App:
        raise NotImplementedError

    def issue_token(
        self,
        *,
        platform: str,
        kind: str,
        app_id: str,
        subject_id: str,
        scopes: tuple[str, ...],
        expires_in: float | None,
        user_id: str | None = None,
    ) -> Token:
        now = self.now()
        if platform == META:
            value = self.ids.secret("meta_token", 84, "EAA")
        else:
            value = self.ids.secret("li_token", 84, "AQV")
        token = Token(
            value=value,
            platform=platform,
            kind=kind,
            app_id=app_id,
            subject_id=subject_id,
            scopes=tuple(scopes),
            issued_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            user_id=user_id,
        )
        self.tokens[value] = token
        self.touch()
        return token

    def user_token(
        self,
        user_id: str,
        *,
        app_id: str | None = None,
        scopes: tuple[str, ...] = META_USER_SCOPES,
        expires_in: float | None = META_LONG_LIVED,
    ) -> Token:
        app = self.app_for(META, app_id)
        return self.issue_token(
            platform=META,
            kind=KIND_USER,
            app_id=app.id,
            subject_id=user_id,
            scopes=scopes,
            expires_in=expires_in,
            user_id=user_id,
        )

    def page_token(self, app_id: str, user_id: str, page_id: str, scopes: tuple[str, ...]) -> Token:
        """The page token a user token yields for one page (stable; never expires by time)."""
        key = (app_id, user_id, page_id)
        existing = self.page_token_index.get(key)
        if existing is not None:
            token = self.tokens[existing]
            if token.invalid_subcode is None:
                return token
        token = self.issue_token(
            platform=META,
            kind=KIND_PAGE,
            app_id=app_id,
            subject_id=page_id,
            scopes=scopes,
            expires_in=None,
            user_id=user_id,
        )
        self.page_token_index[key] = token.value
        return token

    def app_token_value(self, app: App) -> str:
        return f"{app.id}|{app.secret}"

    def member_token(
        self,
        member_id: str,
        *,
        app_id: str | None = None,
        scopes: tuple[str, ...] | None = None,
        expires_in: float | None = LINKEDIN_ACCESS_TTL,
        with_refresh: bool = True,
    ) -> Token:
        member = self.li_members.get(member_id)
        if member is None:
            raise ValueError(f"unknown LinkedIn member {member_id}")
        app = self.app_for(LINKEDIN, app_id)
        if scopes is None:
            scopes = LINKEDIN_MEMBER_SCOPES + (LINKEDIN_ADMIN_SCOPES if member.admin_of else ())
        token = self.issue_token(
            platform=LINKEDIN,
            kind=KIND_MEMBER,
            app_id=app.id,
            subject_id=member_id,
            scopes=scopes,
            expires_in=expires_in,
        )
        if with_refresh and app.refresh_tokens:
            refresh = RefreshToken(
                value=self.ids.secret("li_refresh", 84, "AQX"),
                app_id=app.id,
                member_id=member_id,
                scopes=tuple(scopes),
                expires_at=self.now() + LINKEDIN_REFRESH_TTL,
            )
            self.refresh_tokens[refresh.value] = refresh
            token.refresh_token = refresh.value
        return token

    def expire_token(self, value: str) -> Token:
        token = self._token(value)
        token.expires_at = min(token.expires_at or self.now(), self.now()) - 1.0
        self.touch()
        return token

    def revoke_token(self, value: str, subcode: int = SUBCODE_PASSWORD_CHANGED) -> list[str]:
        """Invalidate a token (Graph 190 with ``subcode``); a user token takes its page tokens."""
        token = self._token(value)
        token.invalid_subcode = subcode
        token.revoked = True
        revoked = [value]
        if token.kind == KIND_USER:
            for other in self.tokens.values():
                if (
                    other.kind == KIND_PAGE
                    and other.user_id == token.user_id
                    and other is not token
                ):
                    if other.app_id == token.app_id and other.invalid_subcode is None:
                        other.invalid_subcode = subcode
                        other.revoked = True
                        revoked.append(other.value)
        if token.refresh_token and token.refresh_token in self.refresh_tokens:
            self.refresh_tokens[token.refresh_token].revoked = True
        self.touch()
        return revoked

    def _token(self, value: str) -> Token:
        token = self.tokens.get(value)
        if token is None:
            raise KeyError(f"unknown token {value[:12]}...")
        return token

    def issue_code(
        self,
        *,
        platform: str,
        app_id: str,
        subject_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
    ) -> AuthCode:
        prefix = "AQ" if platform == META else "AQT"
        code = AuthCode(
            code=self.ids.secret("oauth_code", 64, prefix),
            platform=platform,
            app_id=app_id,
            subject_id=subject_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes),
            expires_at=self.now() + 600.0,
        )
        self.codes[code.code] = code
        self.touch()
        return code
