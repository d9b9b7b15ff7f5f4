"""Bulk post seeding and the ``demo`` world."""

from __future__ import annotations

from typing import Any

from app.sandbox.curves import post_seed
from app.sandbox.entities import FACEBOOK, INSTAGRAM, LINKEDIN, META, Post
from app.sandbox.state import SandboxState

FB_MEDIA = ("status", "link", "photo", "video", "reel")
IG_MEDIA = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM")
IG_PRODUCTS = ("FEED", "REELS", "STORY")
LI_MEDIA = ("text", "image", "video", "article", "multi_image", "document")
HOUR = 3600.0


def _owner(state: SandboxState, platform: str, owner_id: str) -> str:
    if platform == FACEBOOK:
        if owner_id not in state.pages:
            raise ValueError(f"unknown page {owner_id}")
    elif platform == INSTAGRAM:
        if owner_id not in state.ig_accounts:
            raise ValueError(f"unknown Instagram account {owner_id}")
    elif platform == LINKEDIN:
        owner = state.li_owner(owner_id) if owner_id.startswith("urn:") else owner_id
        if owner is None or (owner not in state.li_orgs and owner not in state.li_members):
            raise ValueError(f"unknown LinkedIn organization or member {owner_id}")
        return owner
    else:
        raise ValueError("platform must be facebook, instagram or linkedin")
    return owner_id


def _ages(count: int, age_hours: float | tuple[float, float] | list[float]) -> list[float]:
    """Ages in hours, oldest first; a [min, max] range is spread evenly."""
    if isinstance(age_hours, int | float):
        return [float(age_hours)] * count
    low, high = float(age_hours[0]), float(age_hours[1])
    if low < 0 or high < low:
        raise ValueError("age_hours range must be [min, max] with 0 <= min <= max")
    if count == 1:
        return [high]
    step = (high - low) / (count - 1)
    return [high - step * i for i in range(count)]


def seed_posts(
    state: SandboxState,
    *,
    platform: str,
    owner_id: str,
    count: int,
    media_type: str | list[str] | None = None,
    product_type: str | None = None,
    age_hours: float | tuple[float, float] | list[float] = 0.0,
    message: str | None = None,
    link: str | None = None,
    urn_kind: str = "share",
) -> list[str]:
    """Create ``count`` posts in one go (100k in well under 2 s); returns their ids."""
    if not 1 <= count <= 1_000_000:
        raise ValueError("count must be within 1..1000000")
    owner = _owner(state, platform, owner_id)
    allowed = {FACEBOOK: FB_MEDIA, INSTAGRAM: IG_MEDIA, LINKEDIN: LI_MEDIA}[platform]
    kinds = [media_type] if isinstance(media_type, str) else list(media_type or [allowed[0]])
    product = product_type or "FEED"
    if platform == INSTAGRAM and product not in IG_PRODUCTS:
        raise ValueError(f"product_type must be one of {', '.join(IG_PRODUCTS)}")
    if platform == INSTAGRAM and product == "REELS":
        kinds = ["VIDEO"]
    for kind in kinds:
        if kind not in allowed:
            raise ValueError(f"media_type for {platform} must be one of {', '.join(allowed)}")
    if urn_kind not in ("share", "ugcPost"):
        raise ValueError("urn_kind must be share or ugcPost")
    now = state.now()
    ages = _ages(count, age_hours)
    namespace = {FACEBOOK: "fb_post", INSTAGRAM: "ig_media", LINKEDIN: "li_post"}[platform]
    numbers = state.ids.numbers(namespace, count)
    posts, by_owner, fb_objects = (
        state.posts,
        state.posts_by_owner.setdefault(owner, []),
        state.fb_objects,
    )
    ids: list[str] = []
    n_kinds = len(kinds)
    for i, number in enumerate(numbers):
        kind = kinds[i % n_kinds]
        if platform == FACEBOOK:
            post_id = f"{owner}_{number}"
        elif platform == INSTAGRAM:
            post_id = str(number)
        else:
            post_id = (
                f"urn:li:{'ugcPost' if kind in ('video', 'multi_image') else urn_kind}:{number}"
            )
        video_id = None
        if platform == FACEBOOK and kind in ("video", "reel"):
            video_id = state.ids.number("fb_object")
            fb_objects[video_id] = post_id
        text = message if message is not None else f"Sandbox post {number}"
        posts[post_id] = Post(
            post_id,
            platform,
            owner,
            kind,
            product,
            now - ages[i] * HOUR,
            post_seed(post_id),
            text,
            link
            if link is not None
            else ("https://example.com/" + str(number) if kind in ("link", "article") else None),
            False,
            video_id,
        )
        by_owner.append(post_id)
        ids.append(post_id)
    if platform == INSTAGRAM:
        for post_id in ids:
            post = posts[post_id]
            if post.media_type == "CAROUSEL_ALBUM":
                post.children = tuple(state.ids.number("ig_media") for _ in range(3))
    state.counters.bump("posts_created", platform, count)
    state.touch()
    return ids


def build_demo(state: SandboxState, *, app_secret: str | None = None) -> dict[str, Any]:
    """The ``demo`` world: accounts on every platform, tokens, and posts with history."""
    meta_app = state.create_app(META, name="Postmeter Demo", secret=app_secret)
    user = state.create_meta_user(name="Demo Admin")
    user_token = state.user_token(user.id, app_id=meta_app.id)
    page = state.create_page(name="Postmeter Demo Page", user_id=user.id)
    page.fan_count = 1840
    page_token = state.page_token(meta_app.id, user.id, page.id, user_token.scopes)
    ig = state.create_ig_account(page.id, username="postmeter.demo")
    ig.followers_count = 3120
    li_app = state.create_app(LINKEDIN, name="Postmeter Demo")
    org = state.create_li_org(name="Postmeter Demo Org")
    admin = state.create_li_member(name="Demo Admin", admin_of=[org.id])
    admin_token = state.member_token(admin.id, app_id=li_app.id)
    creator = state.create_li_member(name="Demo Creator")
    creator_token = state.member_token(creator.id, app_id=li_app.id)

    week = (1.0, 240.0)  # ages spread over the last ten days
    seed_posts(
        state,
        platform=FACEBOOK,
        owner_id=page.id,
        count=10,
        media_type=list(FB_MEDIA),
        age_hours=week,
    )
    seed_posts(
        state,
        platform=INSTAGRAM,
        owner_id=ig.id,
        count=6,
        media_type=["IMAGE", "CAROUSEL_ALBUM"],
        age_hours=week,
    )
    seed_posts(
        state,
        platform=INSTAGRAM,
        owner_id=ig.id,
        count=3,
        product_type="REELS",
        age_hours=(2.0, 120.0),
    )
    seed_posts(
        state, platform=INSTAGRAM, owner_id=ig.id, count=1, product_type="STORY", age_hours=3.0
    )
    seed_posts(
        state,
        platform=LINKEDIN,
        owner_id=org.id,
        count=10,
        media_type=["text", "image", "video", "article"],
        age_hours=week,
    )
    seed_posts(
        state,
        platform=LINKEDIN,
        owner_id=creator.id,
        count=10,
        media_type=["text", "image", "article"],
        age_hours=week,
    )

    demo = {
        "meta_app_id": meta_app.id,
        "meta_app_secret": meta_app.secret,
        "meta_user_id": user.id,
        "meta_user_token": user_token.value,
        "page_id": page.id,
        "page_token": page_token.value,
        "ig_user_id": ig.id,
        "linkedin_app_id": li_app.id,
        "linkedin_app_secret": li_app.secret,
        "org_id": org.id,
        "org_urn": org.urn,
        "org_admin_member_id": admin.id,
        "org_admin_token": admin_token.value,
        "org_admin_refresh_token": admin_token.refresh_token,
        "member_id": creator.id,
        "member_urn": creator.urn,
        "member_token": creator_token.value,
        "member_refresh_token": creator_token.refresh_token,
    }
    state.demo = dict(demo)
    return demo
