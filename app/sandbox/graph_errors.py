"""Graph API errors in Graph's JSON shape, with the codes and messages the real API uses."""

from __future__ import annotations

import secrets
from typing import Any

from app.sandbox.clock import http_date
from app.sandbox.entities import (
    SUBCODE_APP_NOT_INSTALLED,
    SUBCODE_EXPIRED,
    SUBCODE_INVALID,
    SUBCODE_PASSWORD_CHANGED,
)

OAUTH = "OAuthException"
METHOD = "GraphMethodException"


def fbtrace_id() -> str:
    return "A" + secrets.token_urlsafe(16)[:22]


class GraphError(Exception):
    """An error the Graph API would answer with; ``status`` is the HTTP status."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        type_: str = OAUTH,
        subcode: int | None = None,
        status: int = 400,
        transient: bool | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.type = type_
        self.subcode = subcode
        self.status = status
        self.transient = transient
        self.extra = extra or {}
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error.update(self.extra)
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


UNSUPPORTED_GET = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)


def unknown_object(object_id: str, method: str = "get") -> GraphError:
    return GraphError(
        100, UNSUPPORTED_GET.format(method=method, id=object_id), type_=METHOD, subcode=33
    )


def unknown_path(component: str) -> GraphError:
    return GraphError(2500, f"Unknown path components: /{component}")


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(
        100, f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"
    )


def invalid_metric() -> GraphError:
    return GraphError(100, "(#100) The value must be a valid insights metric")


def ig_unsupported_metric(metric: str) -> GraphError:
    return GraphError(
        100,
        f"(#100) The Media Insights API does not support the {metric} metric for this media "
        "product type.",
    )


def invalid_parameter(message: str, subcode: int | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode=subcode)


def bad_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token")


def expired_token(expired_at: float, now: float) -> GraphError:
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {http_date(expired_at)}. "
        f"The current time is {http_date(now)}.",
        subcode=SUBCODE_EXPIRED,
    )


_INVALIDATED = {
    SUBCODE_APP_NOT_INSTALLED: (
        "Error validating access token: The user has not authorized application."
    ),
    SUBCODE_PASSWORD_CHANGED: (
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons."
    ),
    SUBCODE_INVALID: (
        "Error validating access token: The session is invalid because the user logged out."
    ),
}


def invalidated_token(subcode: int) -> GraphError:
    message = _INVALIDATED.get(subcode, "Error validating access token: The session is invalid.")
    return GraphError(190, message, subcode=subcode)


def page_token_required() -> GraphError:
    return GraphError(190, "(#190) This method must be called with a Page Access Token")


def missing_permission(permission: str) -> GraphError:
    return GraphError(10, f"(#10) This endpoint requires the '{permission}' permission.")


def publish_permission() -> GraphError:
    return GraphError(
        200,
        "(#200) If posting to a page, requires both pages_read_engagement and "
        "pages_manage_posts permission",
    )


def appsecret_proof_missing() -> GraphError:
    return GraphError(
        100, "API calls from the server require an appsecret_proof argument", type_=METHOD
    )


def appsecret_proof_invalid() -> GraphError:
    return GraphError(100, "Invalid appsecret_proof provided in the API argument", type_=METHOD)


_THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try "
    "again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and "
    "try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
}


def throttled(code: int) -> GraphError:
    return GraphError(code, _THROTTLE_MESSAGES[code], transient=True)


def service_unavailable() -> GraphError:
    return GraphError(
        2,
        "An unexpected error has occurred. Please retry your request later.",
        status=500,
        transient=True,
    )


def old_version(version: str, latest: str) -> GraphError:
    return GraphError(
        2635,
        f"(#2635) You are calling a deprecated version of the Graph API ({version}). "
        f"Please update to the latest version: {latest}.",
    )
