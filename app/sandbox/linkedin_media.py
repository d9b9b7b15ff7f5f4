"""LinkedIn Images and Videos APIs: ``initializeUpload``, the ``PUT`` of the bytes to the upload
URLs (served by the sandbox under ``/dms-uploads/``), ``finalizeUpload`` with the parts' ETags,
and the assets' status (``WAITING_UPLOAD`` -> ``PROCESSING`` -> ``AVAILABLE`` or
``PROCESSING_FAILED``).

Sources: docs/design/publishing-platform-facts.md §3.3-§3.4 (reply shapes as reproduced by
peers; a personal token cannot read ``/rest/images``; videos are readable with any token).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.sandbox.entities import LinkedInAsset
from app.sandbox.linkedin_auth import LinkedInCaller
from app.sandbox.linkedin_errors import LinkedInError, access_denied, bad_request, not_found
from app.sandbox.publish_faults import PROCESSING, account_id
from app.sandbox.state import SandboxState

UPLOAD_PATH = "/dms-uploads/"
UPLOAD_URL_TTL = 86_400.0
MAX_VIDEO_BYTES = 5 * 1024**3  # LinkedIn's video size cap for organizations (5 GB)
IMAGES = "images"
VIDEOS = "videos"


def _json_body(body: bytes, wrapper: str) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    inner = data.get(wrapper) if isinstance(data, dict) else None
    if not isinstance(inner, dict):
        raise LinkedInError(
            422, "UNPROCESSABLE_ENTITY", f"ERROR :: /{wrapper} :: field is required\n"
        )
    return inner


def _may_own(caller: LinkedInCaller, owner: str) -> bool:
    """Whether the caller may upload media for ``owner`` (as for creating its posts)."""
    if owner == caller.member.urn:
        return caller.has("w_member_social")
    if owner.startswith("urn:li:organization:"):
        return caller.admin_of(account_id(owner)) and caller.has("w_organization_social")
    return False


def _owner(state: SandboxState, caller: LinkedInCaller, raw: Any, resource: str) -> str:
    if not isinstance(raw, str) or state.li_owner(raw) is None:
        raise LinkedInError(
            422, "UNPROCESSABLE_ENTITY", f"ERROR :: /initializeUploadRequest/owner :: {raw}\n"
        )
    if not _may_own(caller, raw):
        raise access_denied(resource, "ACTION", caller.version)
    return raw


def _upload_url(state: SandboxState, base_url: str, asset: LinkedInAsset) -> str:
    key = state.ids.secret("li_upload", 32)
    state.li_uploads[key] = [asset.urn, len(asset.upload_keys)]
    asset.upload_keys.append(key)
    return f"{base_url}{UPLOAD_PATH}{key}"


def initialize_image(
    state: SandboxState, caller: LinkedInCaller, body: bytes, base_url: str
) -> dict[str, Any]:
    request = _json_body(body, "initializeUploadRequest")
    owner = _owner(state, caller, request.get("owner"), IMAGES)
    now = state.now()
    urn = f"urn:li:image:{state.ids.secret('li_asset', 16, 'D4E')}"
    asset = LinkedInAsset(urn=urn, kind="image", owner=owner, created_at=now)
    asset.parts.append([0, -1])  # one PUT of the whole file
    asset.etags.append(None)
    url = _upload_url(state, base_url, asset)
    state.li_assets[urn] = asset
    state.touch()
    expires = int((now + UPLOAD_URL_TTL) * 1000)
    return {"value": {"uploadUrlExpiresAt": expires, "uploadUrl": url, "image": urn}}


def initialize_video(
    state: SandboxState, caller: LinkedInCaller, body: bytes, base_url: str
) -> dict[str, Any]:
    request = _json_body(body, "initializeUploadRequest")
    owner = _owner(state, caller, request.get("owner"), VIDEOS)
    size = request.get("fileSizeBytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_VIDEO_BYTES:
        raise LinkedInError(
            422,
            "UNPROCESSABLE_ENTITY",
            "ERROR :: /initializeUploadRequest/fileSizeBytes :: must be a positive size\n",
        )
    now = state.now()
    urn = f"urn:li:video:{state.ids.secret('li_asset', 16, 'D4E')}"
    asset = LinkedInAsset(urn=urn, kind="video", owner=owner, created_at=now, size=size)
    part = max(1, state.settings.linkedin_video_part_bytes)
    instructions = []
    for first in range(0, size, part):
        last = min(size, first + part) - 1
        asset.parts.append([first, last])
        asset.etags.append(None)
        url = _upload_url(state, base_url, asset)
        instructions.append({"uploadUrl": url, "firstByte": first, "lastByte": last})
    state.li_assets[urn] = asset
    state.touch()
    return {
        "value": {
            "uploadUrlsExpireAt": int((now + UPLOAD_URL_TTL) * 1000),
            "video": urn,
            "uploadInstructions": instructions,
            "uploadToken": "",
        }
    }


def _start_processing(state: SandboxState, asset: LinkedInAsset) -> None:
    settings = state.settings
    delay = (
        settings.linkedin_video_processing_seconds
        if asset.kind == "video"
        else settings.linkedin_image_processing_seconds
    )
    rule = state.publish_faults.draw(PROCESSING, "linkedin", asset.owner)
    if rule is not None:
        state.counters.bump("faults", f"publish {rule.kind}")
        delay += rule.delay_ms / 1000.0
        if rule.kind == "processing_error":
            asset.failure = rule.message or "Media processing failed"
    asset.uploaded = True
    asset.ready_at = state.now() + delay
    state.touch()


def upload(state: SandboxState, key: str, data: bytes) -> tuple[int, dict[str, str]]:
    """``PUT`` to an upload URL: an image's bytes (201) or one video part (200 + ``ETag``)."""
    entry = state.li_uploads.get(key)
    asset = state.li_assets.get(str(entry[0])) if entry else None
    if entry is None or asset is None:
        raise not_found("Unknown upload URL")
    index = int(str(entry[1]))
    if not data:
        raise bad_request("The upload is empty")
    if asset.kind == "image":
        if asset.uploaded:
            raise bad_request("This image has been uploaded already")
        asset.size = len(data)
        _start_processing(state, asset)
        return 201, {}
    if asset.uploaded:
        raise bad_request("This video has been finalized already")
    first, last = asset.parts[index]
    if len(data) != last - first + 1:
        raise bad_request(
            f"Part {index + 1} must be {last - first + 1} bytes (bytes {first}-{last}), "
            f"got {len(data)}"
        )
    etag = "/" + hashlib.blake2b(data + asset.urn.encode(), digest_size=18).hexdigest()
    asset.etags[index] = etag
    state.touch()
    return 200, {"ETag": etag}


def finalize_video(state: SandboxState, caller: LinkedInCaller, body: bytes) -> None:
    request = _json_body(body, "finalizeUploadRequest")
    asset = state.li_assets.get(str(request.get("video")))
    if asset is None or asset.kind != "video":
        raise not_found(f"Video {request.get('video')} not found")
    if not _may_own(caller, asset.owner):
        raise access_denied(VIDEOS, "ACTION", caller.version)
    if asset.uploaded:
        raise bad_request("This video has been finalized already")
    missing = [i + 1 for i, etag in enumerate(asset.etags) if etag is None]
    if missing:
        raise bad_request(f"Parts {missing} have not been uploaded")
    if request.get("uploadedPartIds") != asset.etags:
        raise bad_request("uploadedPartIds must list every part's ETag in upload order")
    _start_processing(state, asset)


def asset_status(state: SandboxState, asset: LinkedInAsset) -> str:
    if not asset.uploaded:
        return "WAITING_UPLOAD"
    if asset.ready_at is not None and state.now() < asset.ready_at:
        return "PROCESSING"
    return "PROCESSING_FAILED" if asset.failure else "AVAILABLE"


def get_asset(state: SandboxState, caller: LinkedInCaller, kind: str, urn: str) -> dict[str, Any]:
    """``GET /rest/images/{urn}`` / ``/rest/videos/{urn}``."""
    asset = state.li_assets.get(urn)
    resource = IMAGES if kind == "image" else VIDEOS
    if asset is None or asset.kind != kind:
        raise not_found(f"{kind.capitalize()} {urn} not found")
    if asset.owner.startswith("urn:li:organization:"):
        allowed = caller.admin_of(account_id(asset.owner))
    else:  # a member's own media: videos yes, images no (a personal token is write-only)
        allowed = kind == "video" and asset.owner == caller.member.urn
    if not allowed:
        raise access_denied(resource, "GET", caller.version)
    status = asset_status(state, asset)
    out: dict[str, Any] = {"id": asset.urn, "owner": asset.owner, "status": status}
    if status == "AVAILABLE":
        out["downloadUrl"] = f"https://media.licdn.com/dms/{kind}/sandbox/{asset.urn}"
        out["downloadUrlExpiresAt"] = int((state.now() + UPLOAD_URL_TTL) * 1000)
    if status == "PROCESSING_FAILED":
        out["processingFailureReason"] = asset.failure
    return out


def usable_media(state: SandboxState, urn: str, author: str, path: str) -> LinkedInError | None:
    """Why a post cannot use the media ``urn`` (None: it can). Documents are taken as given."""
    if urn.startswith("urn:li:document:"):
        return None
    asset = state.li_assets.get(urn)
    if asset is None:
        return LinkedInError(422, "UNPROCESSABLE_ENTITY", f"ERROR :: {path} :: {urn} not found\n")
    if asset.owner != author:
        return LinkedInError(
            422, "UNPROCESSABLE_ENTITY", f"ERROR :: {path} :: {urn} is owned by another author\n"
        )
    status = asset_status(state, asset)
    if status != "AVAILABLE":
        return LinkedInError(
            422,
            "UNPROCESSABLE_ENTITY",
            f"ERROR :: {path} :: {urn} is not AVAILABLE (status {status})\n",
        )
    return None
