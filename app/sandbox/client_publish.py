"""The publishing part of the control client: posts created per target, publishing faults,
media files (mixed into `app.sandbox.client.SandboxControl`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from app.sandbox.publish_faults import LostMode, PublishFaultKind, PublishPlatform

TargetKey = tuple[str, str, str]  # (platform, account id, text or marker)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class PublishingControl:
    """Control calls about publishing; `SandboxControl` provides the transport."""

    _client: httpx.AsyncClient
    _prefix: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError  # SandboxControl's

    async def published(
        self,
        *,
        platform: PublishPlatform | None = None,
        owner_id: str | None = None,
        marker: str | None = None,
        since: float | None = None,
    ) -> dict[str, Any]:
        """Posts created through the publishing endpoints: ``{total, duplicates, unmarked,
        targets: [{platform, owner_id, key, count, post_ids}], posts: [...]}``.

        A target's key is the exact text, or the first group (else the whole match) of the
        regular expression ``marker`` in it; ``since`` is epoch seconds of sandbox time.
        """
        params = _drop_none(
            {"platform": platform, "owner_id": owner_id, "marker": marker, "since": since}
        )
        query = f"?{urlencode(params)}" if params else ""
        data: dict[str, Any] = await self._call("GET", f"/published{query}")
        return data

    async def published_counts(
        self, *, marker: str | None = None, platform: PublishPlatform | None = None
    ) -> dict[TargetKey, int]:
        """Posts created per target: ``{(platform, account id, key): count}``."""
        report = await self.published(marker=marker, platform=platform)
        targets = report["targets"]
        return {(t["platform"], t["owner_id"], t["key"]): int(t["count"]) for t in targets}

    async def clear_published(self) -> int:
        """Forget the log of published posts (the posts themselves stay)."""
        return int((await self._call("DELETE", "/published"))["removed"])

    async def set_publish_fault(
        self,
        kind: PublishFaultKind,
        *,
        platform: PublishPlatform | None = None,
        account: str | None = None,
        rate: float = 1.0,
        count: int | None = None,
        seed: int | None = None,
        mode: LostMode = "5xx",
        status: int = 500,
        delay_ms: int = 0,
        code: int | None = None,
        subcode: int | None = None,
        message: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """A publishing fault (see docs/sandbox.md "Publishing faults"), e.g.
        ``set_publish_fault("lost_reply", mode="reset", platform="linkedin", count=1)``."""
        body = _drop_none(
            {
                "kind": kind,
                "platform": platform,
                "account": account,
                "rate": rate,
                "count": count,
                "seed": seed,
                "mode": mode,
                "status": status,
                "delay_ms": delay_ms,
                "code": code,
                "subcode": subcode,
                "message": message,
                "url": url,
            }
        )
        result: dict[str, Any] = await self._call("POST", "/publish-faults", body)
        return result

    async def publish_faults(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/publish-faults"))["faults"])

    async def clear_publish_faults(self, rule_id: int | None = None) -> int:
        path = "/publish-faults" if rule_id is None else f"/publish-faults/{rule_id}"
        return int((await self._call("DELETE", path))["removed"])

    def media_url(self, name: str, *, size: int | None = None) -> str:
        """The URL of a media file the sandbox serves (``photo.jpg``, ``clip.mp4``, ...)."""
        prefix = self._prefix
        if not prefix.startswith("http"):
            prefix = str(self._client.base_url).rstrip("/") + prefix
        suffix = f"?bytes={size}" if size is not None else ""
        return f"{prefix}/media/{name}{suffix}"
