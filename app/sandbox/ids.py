"""Deterministic ids, tokens and secrets: the same world seed always builds the same world."""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# First number of each id namespace, shaped like the real platforms' ids.
_BASES = {
    "meta_app": 1_000_000_000_000_000,
    "meta_user": 10_150_000_000_000_000,
    "page": 100_200_000_000_000,
    "fb_post": 122_100_000_000_000_000,
    "fb_object": 1_200_000_000_000_000,  # photos and videos
    "ig_user": 17_841_400_000_000_000,
    "ig_media": 17_900_000_000_000_000,
    "ig_container": 17_880_000_000_000_000,
    "li_app": 770_000_000_000,
    "li_org": 2_414_000,
    "li_post": 7_300_000_000_000_000_000,
}


def _base62(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(out)


class IdFactory:
    """Counters per namespace plus hashed, unguessable-looking strings."""

    __slots__ = ("counters", "world_seed")

    def __init__(self, world_seed: str = "sandbox", counters: dict[str, int] | None = None):
        self.world_seed = world_seed
        self.counters: dict[str, int] = dict(counters or {})

    def _next(self, namespace: str) -> int:
        n = self.counters.get(namespace, 0) + 1
        self.counters[namespace] = n
        return n

    def number(self, namespace: str) -> str:
        """Next numeric id in ``namespace`` (decimal string)."""
        return str(_BASES[namespace] + self._next(namespace))

    def numbers(self, namespace: str, count: int) -> range:
        """Reserve ``count`` consecutive numeric ids (bulk seeding)."""
        start = self.counters.get(namespace, 0) + 1
        self.counters[namespace] = start + count - 1
        return range(_BASES[namespace] + start, _BASES[namespace] + start + count)

    def secret(self, namespace: str, length: int, prefix: str = "") -> str:
        """Next hashed string in ``namespace``: tokens, secrets, codes, member ids."""
        n = self._next(namespace)
        digest = hashlib.blake2b(f"{self.world_seed}:{namespace}:{n}".encode(), digest_size=64)
        return prefix + _base62(digest.digest(), length)

    def hex_secret(self, namespace: str) -> str:
        n = self._next(namespace)
        return hashlib.blake2b(
            f"{self.world_seed}:{namespace}:{n}".encode(), digest_size=16
        ).hexdigest()
