"""Plain records the sandbox world is made of (slotted dataclasses: compact and fast)."""

from __future__ import annotations

from dataclasses import dataclass, field

META = "meta"
LINKEDIN = "linkedin"

FACEBOOK = "facebook"
INSTAGRAM = "instagram"

# Token kinds
KIND_USER = "user"
KIND_PAGE = "page"
KIND_APP = "app"
KIND_MEMBER = "member"

# Graph 190 subcodes used for invalidated tokens
SUBCODE_APP_NOT_INSTALLED = 458
SUBCODE_PASSWORD_CHANGED = 460
SUBCODE_EXPIRED = 463
SUBCODE_INVALID = 467


@dataclass(slots=True)
class App:
    id: str
    platform: str
    name: str
    secret: str | None
    require_appsecret_proof: bool = True
    redirect_uris: list[str] = field(default_factory=list)
    refresh_tokens: bool = True  # LinkedIn: only approved partner apps get refresh tokens
    quotas: dict[str, int] = field(default_factory=dict)  # overrides of the global quotas


@dataclass(slots=True)
class MetaUser:
    id: str
    name: str
    page_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    id: str
    name: str
    category: str = "Software"
    user_ids: list[str] = field(default_factory=list)
    ig_user_id: str | None = None
    fan_count: int = 0


@dataclass(slots=True)
class IgAccount:
    id: str
    page_id: str
    username: str
    name: str
    followers_count: int = 0


@dataclass(slots=True)
class LinkedInOrg:
    id: str
    name: str
    vanity_name: str

    @property
    def urn(self) -> str:
        return f"urn:li:organization:{self.id}"


@dataclass(slots=True)
class LinkedInMember:
    id: str
    name: str
    admin_of: list[str] = field(default_factory=list)

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"


@dataclass(slots=True)
class Token:
    value: str
    platform: str
    kind: str
    app_id: str
    subject_id: str  # user id, page id or member id (the app id for app tokens)
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float | None = None  # None: does not expire by time
    user_id: str | None = None  # page tokens: the user the token was derived from
    invalid_subcode: int | None = None  # Graph 190 subcode once invalidated
    revoked: bool = False
    refresh_token: str | None = None  # LinkedIn


@dataclass(slots=True)
class RefreshToken:
    value: str
    app_id: str
    member_id: str
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass(slots=True)
class AuthCode:
    code: str
    platform: str
    app_id: str
    subject_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass(slots=True)
class Post:
    """One post on any platform; metrics are derived lazily from ``seed`` and age."""

    id: str
    platform: str
    owner_id: str  # page id, IG user id, LinkedIn org id or member id
    media_type: str  # FB: status|link|photo|video|reel, IG: IMAGE|VIDEO|CAROUSEL_ALBUM, LI: ...
    product_type: str  # IG: FEED|REELS|STORY; FB/LI: FEED
    created_at: float
    seed: int
    message: str = ""
    link: str | None = None
    deleted: bool = False
    video_id: str | None = None  # FB video/reel object id
    children: tuple[str, ...] = ()  # IG carousel children ids

    @property
    def is_video(self) -> bool:
        return self.media_type in ("video", "reel", "VIDEO") or self.product_type == "REELS"


@dataclass(slots=True)
class Container:
    """An Instagram media container (``POST /{ig-user-id}/media``)."""

    id: str
    ig_user_id: str
    media_type: str
    product_type: str
    media_url: str
    caption: str
    created_at: float
    ready_at: float
    status_code: str = "IN_PROGRESS"
    media_id: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()
    error_subcode: int | None = None  # processing ends ERROR with this subcode


@dataclass(slots=True)
class FbPhoto:
    """A photo uploaded with ``published=false``: invisible until a feed post attaches it."""

    id: str
    page_id: str
    url: str
    created_at: float
    post_id: str | None = None  # the feed post that attached it


@dataclass(slots=True)
class LinkedInAsset:
    """An image or video of the LinkedIn Images/Videos APIs, from initializeUpload on."""

    urn: str
    kind: str  # image | video
    owner: str  # the owner URN given to initializeUpload
    created_at: float
    size: int = 0
    parts: list[list[int]] = field(default_factory=list)  # [firstByte, lastByte] per part
    upload_keys: list[str] = field(default_factory=list)  # one opaque upload URL key per part
    etags: list[str | None] = field(default_factory=list)  # per part, once uploaded
    uploaded: bool = False  # image PUT done / video finalized
    ready_at: float | None = None  # when processing ends
    failure: str | None = None  # processing ends PROCESSING_FAILED with this reason


@dataclass(slots=True)
class Published:
    """One post created through a publishing endpoint (what ``/_sandbox/published`` counts)."""

    post_id: str
    platform: str
    owner_id: str
    text: str
    link: str | None
    media: tuple[str, ...]  # media URLs (Meta) or media URNs (LinkedIn)
    endpoint: str
    created_at: float
