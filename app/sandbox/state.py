"""The sandbox world: apps, accounts, tokens, posts, plus the clock, quotas and counters."""

from __future__ import annotations

from app.sandbox.clock import SandboxClock
from app.sandbox.config import Quotas, Settings
from app.sandbox.counters import Counters
from app.sandbox.curves import post_seed
from app.sandbox.entities import (
    FACEBOOK,
    INSTAGRAM,
    LINKEDIN,
    META,
    App,
    AuthCode,
    Container,
    FbPhoto,
    IgAccount,
    LinkedInAsset,
    LinkedInMember,
    LinkedInOrg,
    MetaUser,
    Page,
    Post,
    Published,
    RefreshToken,
    Token,
)
from app.sandbox.faults import FaultInjector
from app.sandbox.ids import IdFactory
from app.sandbox.publish_faults import PublishFaults
from app.sandbox.tokens import (
    LINKEDIN_ACCESS_TTL,
    LINKEDIN_ADMIN_SCOPES,
    LINKEDIN_MEMBER_SCOPES,
    LINKEDIN_REFRESH_TTL,
    META_LONG_LIVED,
    META_USER_SCOPES,
    TokenOps,
)
from app.sandbox.usage import UsageMeter


class SandboxState(TokenOps):
    """Everything the sandbox knows. Single-threaded (one event loop), so no locks."""

    def __init__(
        self,
        *,
        world_seed: str = "sandbox",
        clock: SandboxClock | None = None,
        quotas: Quotas | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.clock = clock or SandboxClock()
        self.quotas = quotas or Quotas()
        self.settings = settings or Settings()
        self.counters = Counters()
        self.usage = UsageMeter()
        self.faults = FaultInjector()
        self.publish_faults = PublishFaults()
        self.changes = 0  # bumped on every world change; persistence saves when it moves
        self.world_seed = world_seed
        self.clear(world_seed)

    def clear(self, world_seed: str | None = None) -> None:
        """Forget the whole world (clock, quotas and settings stay)."""
        self.ids = IdFactory(world_seed or self.world_seed)
        self.world_seed = self.ids.world_seed
        self.apps: dict[str, App] = {}
        self.meta_users: dict[str, MetaUser] = {}
        self.pages: dict[str, Page] = {}
        self.ig_accounts: dict[str, IgAccount] = {}
        self.li_orgs: dict[str, LinkedInOrg] = {}
        self.li_members: dict[str, LinkedInMember] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.page_token_index: dict[tuple[str, str, str], str] = {}
        self.posts: dict[str, Post] = {}
        self.posts_by_owner: dict[str, list[str]] = {}
        self.fb_objects: dict[str, str] = {}  # photo/video id -> post id
        self.containers: dict[str, Container] = {}
        self.ig_publishes: dict[str, list[float]] = {}
        self.fb_last_message: dict[str, list[object]] = {}  # page -> [text, time] of /feed
        self.fb_photos: dict[str, FbPhoto] = {}  # unpublished photos (published=false)
        self.li_assets: dict[str, LinkedInAsset] = {}  # images and videos by URN
        self.li_uploads: dict[str, list[object]] = {}  # upload key -> [asset URN, part index]
        self.published: list[Published] = []  # posts created through publishing endpoints
        self.li_post_extras: dict[str, dict[str, object]] = {}  # as sent to POST /rest/posts
        self.default_app: dict[str, str] = {}  # platform -> app id
        self.demo: dict[str, object] = {}
        self.usage.reset()
        self.touch()

    def touch(self) -> None:
        self.changes += 1

    def now(self) -> float:
        return self.clock.now()

    # -- apps and accounts -------------------------------------------------------------

    def create_app(
        self,
        platform: str,
        *,
        name: str | None = None,
        app_id: str | None = None,
        secret: str | None = None,
        require_appsecret_proof: bool = True,
        redirect_uris: list[str] | None = None,
        refresh_tokens: bool = True,
        quotas: dict[str, int] | None = None,
    ) -> App:
        if platform not in (META, LINKEDIN):
            raise ValueError("platform must be 'meta' or 'linkedin'")
        if app_id is None:
            app_id = self.ids.number("meta_app" if platform == META else "li_app")
        if app_id in self.apps:
            raise ValueError(f"app {app_id} already exists")
        if quotas:
            Quotas().update(quotas)  # validates the names
        app = App(
            id=app_id,
            platform=platform,
            name=name or f"Sandbox {platform} app",
            secret=secret if secret is not None else self.ids.hex_secret("app_secret"),
            require_appsecret_proof=require_appsecret_proof,
            redirect_uris=list(redirect_uris or []),
            refresh_tokens=refresh_tokens,
            quotas=dict(quotas or {}),
        )
        self.apps[app.id] = app
        self.default_app.setdefault(platform, app.id)
        self.touch()
        return app

    def app_for(self, platform: str, app_id: str | None) -> App:
        """The named app, else the platform's default app (created on first use)."""
        if app_id is not None:
            app = self.apps.get(app_id)
            if app is None or app.platform != platform:
                raise ValueError(f"unknown {platform} app {app_id}")
            return app
        default = self.default_app.get(platform)
        return self.apps[default] if default else self.create_app(platform)

    def create_meta_user(self, *, name: str | None = None) -> MetaUser:
        user = MetaUser(id=self.ids.number("meta_user"), name=name or "Sandbox User")
        self.meta_users[user.id] = user
        self.touch()
        return user

    def create_page(
        self, *, name: str | None = None, user_id: str | None = None, category: str = "Software"
    ) -> Page:
        if user_id is None:
            user_id = self.create_meta_user().id
        user = self.meta_users.get(user_id)
        if user is None:
            raise ValueError(f"unknown Meta user {user_id}")
        page = Page(id=self.ids.number("page"), name=name or "Sandbox Page", category=category)
        page.user_ids.append(user.id)
        user.page_ids.append(page.id)
        self.pages[page.id] = page
        self.touch()
        return page

    def create_ig_account(self, page_id: str, *, username: str | None = None) -> IgAccount:
        page = self.pages.get(page_id)
        if page is None:
            raise ValueError(f"unknown page {page_id}")
        if page.ig_user_id is not None:
            raise ValueError(f"page {page_id} already has an Instagram account")
        ig_id = self.ids.number("ig_user")
        handle = username or f"sandbox_{ig_id[-6:]}"
        account = IgAccount(id=ig_id, page_id=page_id, username=handle, name=page.name)
        page.ig_user_id = ig_id
        self.ig_accounts[ig_id] = account
        self.touch()
        return account

    def create_li_org(self, *, name: str | None = None) -> LinkedInOrg:
        org_id = self.ids.number("li_org")
        title = name or "Sandbox Organization"
        org = LinkedInOrg(id=org_id, name=title, vanity_name=title.lower().replace(" ", "-"))
        self.li_orgs[org_id] = org
        self.touch()
        return org

    def create_li_member(
        self, *, name: str | None = None, admin_of: list[str] | None = None
    ) -> LinkedInMember:
        for org_id in admin_of or []:
            if org_id not in self.li_orgs:
                raise ValueError(f"unknown LinkedIn organization {org_id}")
        member = LinkedInMember(id=self.ids.secret("li_member", 10), name=name or "Sandbox Member")
        member.admin_of.extend(admin_of or [])
        self.li_members[member.id] = member
        self.touch()
        return member

    # -- posts -------------------------------------------------------------------------

    def add_post(self, post: Post) -> Post:
        self.posts[post.id] = post
        self.posts_by_owner.setdefault(post.owner_id, []).append(post.id)
        if post.video_id:
            self.fb_objects[post.video_id] = post.id
        self.counters.bump("posts_created", post.platform)
        self.touch()
        return post

    def new_post(
        self,
        platform: str,
        owner_id: str,
        *,
        media_type: str,
        product_type: str = "FEED",
        created_at: float | None = None,
        message: str = "",
        link: str | None = None,
        urn_kind: str = "share",
        children: tuple[str, ...] = (),
    ) -> Post:
        """Create one post with fresh ids (used by the publishing endpoints and seeding)."""
        video_id = None
        if platform == FACEBOOK:
            post_id = f"{owner_id}_{self.ids.number('fb_post')}"
            if media_type in ("video", "reel"):
                video_id = self.ids.number("fb_object")
        elif platform == INSTAGRAM:
            post_id = self.ids.number("ig_media")
        else:
            post_id = f"urn:li:{urn_kind}:{self.ids.number('li_post')}"
        post = Post(
            id=post_id,
            platform=platform,
            owner_id=owner_id,
            media_type=media_type,
            product_type=product_type,
            created_at=self.now() if created_at is None else created_at,
            seed=post_seed(post_id),
            message=message,
            link=link,
            video_id=video_id,
            children=children,
        )
        return self.add_post(post)

    def record_published(
        self,
        post: Post,
        endpoint: str,
        *,
        text: str,
        link: str | None = None,
        media: tuple[str, ...] = (),
    ) -> None:
        """Log a post created through a publishing endpoint (seeded posts are not logged)."""
        self.published.append(
            Published(post.id, post.platform, post.owner_id, text, link, media, endpoint,
                      post.created_at)
        )  # fmt: skip

    def delete_post(self, post_id: str) -> Post:
        post = self.posts.get(post_id) or self.posts.get(self.fb_objects.get(post_id, ""))
        if post is None or post.deleted:
            raise KeyError(f"unknown post {post_id}")
        post.deleted = True
        self.touch()
        return post

    def live_post(self, post_id: str) -> Post | None:
        post = self.posts.get(post_id)
        return None if post is None or post.deleted else post

    def li_owner(self, author_urn: str) -> str | None:
        """Member or organization id for an author URN, if known."""
        if author_urn.startswith("urn:li:organization:"):
            org_id = author_urn.rsplit(":", 1)[1]
            return org_id if org_id in self.li_orgs else None
        if author_urn.startswith("urn:li:person:"):
            member_id = author_urn.rsplit(":", 1)[1]
            return member_id if member_id in self.li_members else None
        return None


__all__ = [
    "LINKEDIN_ACCESS_TTL",
    "LINKEDIN_ADMIN_SCOPES",
    "LINKEDIN_MEMBER_SCOPES",
    "LINKEDIN_REFRESH_TTL",
    "META_LONG_LIVED",
    "META_USER_SCOPES",
    "SandboxState",
]
