"""Deterministic metric curves: the same post at the same sandbox time gives the same numbers.

Every post carries a 64-bit seed (a hash of its id). Its audience size, speed and ratios are
derived from the seed with splitmix64, and each counter grows on a saturating curve
``0.9 * (1 - exp(-t/tau)) + 0.1 * (1 - exp(-t/(20 tau)))``: fast in the first hours, then a
long flat tail. Counters are floors of monotonic functions of age, so they never go down;
engagement curves are slower than the view curve, so reach <= views and engagement <= reach.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from typing import Any

from app.sandbox.entities import FACEBOOK, INSTAGRAM, Post

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15

FB_REACTIONS = ("like", "love", "care", "haha", "wow", "sorry", "anger")
LI_REACTIONS = ("LIKE", "PRAISE", "EMPATHY", "INTEREST", "APPRECIATION", "ENTERTAINMENT")

_BASE_AUDIENCE = {FACEBOOK: 600.0, INSTAGRAM: 1200.0}
_LI_BASE_AUDIENCE = 900.0
_KIND_FACTOR = {
    "status": 0.7,
    "link": 0.8,
    "photo": 1.2,
    "video": 1.8,
    "reel": 2.2,
    "IMAGE": 1.2,
    "VIDEO": 1.8,
    "CAROUSEL_ALBUM": 1.4,
    "text": 0.7,
    "image": 1.1,
    "article": 0.9,
    "multi_image": 1.3,
    "document": 1.0,
}


def post_seed(post_id: str) -> int:
    """64-bit seed for a post id (stable across processes, unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(post_id.encode(), digest_size=8).digest(), "little")


def _unit(seed: int, k: int) -> float:
    """k-th uniform in [0, 1) derived from ``seed`` (splitmix64)."""
    x = (seed + (k + 1) * _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    x ^= x >> 31
    return x / 18446744073709551616.0


@lru_cache(maxsize=131072)
def _params(seed: int, platform: str, media_type: str, product_type: str) -> tuple[float, ...]:
    """Per-post constants: final sizes of each counter and the growth time constants."""
    u = [_unit(seed, k) for k in range(24)]
    z = (u[0] + u[1] + u[2] + u[3] - 2.0) * 1.732  # ~ N(0, 1)
    base = _BASE_AUDIENCE.get(platform, _LI_BASE_AUDIENCE)
    factor = _KIND_FACTOR.get(media_type, 1.0)
    if product_type == "REELS":
        factor = max(factor, 2.2)
    story = product_type == "STORY"
    if story:
        factor = 0.5
    views = base * factor * min(30.0, max(0.05, math.exp(0.9 * z)))
    tau = (1.0 + 2.0 * u[4]) if story else (2.0 + 10.0 * u[4])  # hours
    reach = views * (0.55 + 0.3 * u[5])
    reactions = reach * (0.015 + 0.06 * u[6])
    comments = reactions * (0.05 + 0.2 * u[7])
    shares = reactions * (0.02 + 0.1 * u[8])
    clicks = reach * (0.01 + 0.05 * u[9])
    saves = reach * (0.005 + 0.03 * u[10])
    video_views = views * (0.35 + 0.35 * u[11])
    profile_visits = reach * (0.005 + 0.02 * u[12])
    follows = profile_visits * (0.05 + 0.2 * u[13])
    replies = reach * (0.005 + 0.02 * u[14])
    navigation = reach * (0.6 + 0.6 * u[15])
    avg_watch_ms = 2500.0 + 12000.0 * u[16]
    return (
        views, reach, reactions, comments, shares, clicks, saves, video_views,
        profile_visits, follows, replies, navigation, avg_watch_ms, tau,
        u[17], u[18], u[19], u[20], u[21], u[22], u[23],
    )  # fmt: skip


def _growth(hours: float, tau: float) -> float:
    if hours <= 0.0:
        return 0.0
    return 0.9 * (1.0 - math.exp(-hours / tau)) + 0.1 * (1.0 - math.exp(-hours / (20.0 * tau)))


def _split(total: float, weights: list[float], g: float) -> list[int]:
    s = sum(weights)
    return [int(total * w / s * g) for w in weights]


def snapshot(post: Post, at: float) -> dict[str, Any]:
    """All counters of ``post`` at sandbox time ``at`` (epoch seconds)."""
    p = _params(post.seed, post.platform, post.media_type, post.product_type)
    (views, reach, reactions, comments, shares, clicks, saves, video_views,
     profile_visits, follows, replies, navigation, avg_watch_ms, tau) = p[:14]  # fmt: skip
    hours = (at - post.created_at) / 3600.0
    if post.product_type == "STORY":
        hours = min(hours, 24.0)  # a story stops collecting when it disappears
    g = _growth(hours, tau)
    ge = _growth(hours, tau * 1.4)
    video = post.is_video
    if post.platform == FACEBOOK:
        by_type = _split(
            reactions,
            [8.0 * (0.6 + 0.25 * p[14]), p[15], p[16], p[17], p[18], p[19] * 0.3, p[20] * 0.2],
            ge,
        )
        reaction_types = {name: n for name, n in zip(FB_REACTIONS, by_type, strict=True) if n}
    elif post.platform == INSTAGRAM:
        reaction_types = {"like": int(reactions * ge)}
    else:
        by_type = _split(
            reactions, [8.0 * (0.6 + 0.25 * p[14]), p[15], p[16], p[17], p[18], p[19]], ge
        )
        reaction_types = {name: n for name, n in zip(LI_REACTIONS, by_type, strict=True) if n}
    n_views = int(views * g)
    n_video_views = int(video_views * g) if video else 0
    link_share = 0.5 if post.link else 0.1
    photo_share = 0.4 if post.media_type in ("photo", "image", "IMAGE") else 0.0
    link_clicks = int(clicks * link_share * ge)
    photo_views = int(clicks * photo_share * ge)
    other_clicks = int(clicks * (1.0 - link_share - photo_share) * ge)
    n_clicks = link_clicks + photo_views + other_clicks
    return {
        "views": n_views,
        "reach": int(reach * g),
        "reactions": sum(reaction_types.values()),
        "reactions_by_type": reaction_types,
        "comments": int(comments * ge),
        "shares": int(shares * ge),
        "clicks": n_clicks + n_video_views,
        "clicks_by_type": {
            k: v
            for k, v in (
                ("link clicks", link_clicks),
                ("photo view", photo_views),
                ("other clicks", other_clicks),
                ("video play", n_video_views),
            )
            if v
        },
        "saves": int(saves * ge),
        "video_views": n_video_views,
        "profile_visits": int(profile_visits * ge),
        "follows": int(follows * ge),
        "replies": int(replies * ge),
        "navigation": int(navigation * g),
        "watch_time_ms": int(n_video_views * avg_watch_ms),
        "avg_watch_ms": int(avg_watch_ms) if n_video_views else 0,
    }
