"""LinkedIn error bodies: ``{"status", "code", "message"}`` (+ ``serviceErrorCode``)."""

from __future__ import annotations

from typing import Any


class LinkedInError(Exception):
    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        service_error_code: int | None = None,
        *,
        full_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.service_error_code = service_error_code
        self.full_body = full_body  # a body of another shape (e.g. DUPLICATE_POST's)

    def body(self) -> dict[str, Any]:
        if self.full_body is not None:
            return dict(self.full_body)
        out: dict[str, Any] = {"status": self.status}
        if self.service_error_code is not None:
            out["serviceErrorCode"] = self.service_error_code
        if self.code is not None:
            out["code"] = self.code
        out["message"] = self.message
        return out


class OAuthError(Exception):
    """Errors of ``/oauth/v2/*``: the OAuth 2 shape ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def bad_request(message: str, code: str = "ILLEGAL_ARGUMENT") -> LinkedInError:
    return LinkedInError(400, code, message)


def access_denied(resource: str, method: str, version: str) -> LinkedInError:
    return LinkedInError(
        403,
        "ACCESS_DENIED",
        f"Not enough permissions to access: {resource}.{method}.{version}01",
        100,
    )


def not_found(message: str = "Not Found") -> LinkedInError:
    return LinkedInError(404, "NOT_FOUND", message)


def unprocessable(path: str) -> LinkedInError:
    return LinkedInError(
        422,
        "UNPROCESSABLE_ENTITY",
        f"ERROR :: {path} :: field is required but not found and has no default value\n",
    )


def duplicate_post(existing_urn: str) -> LinkedInError:
    """422 for content identical to a recent post of the author, naming that post (the shape of
    the captures quoted in research §3.6)."""
    message = (
        "com.linkedin.content.common.exception.BadRequestResponseException: "
        f"Content is a duplicate of {existing_urn}"
    )
    body = {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": message,
        "errorDetails": {
            "inputErrors": [
                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
            ]
        },
        "status": 422,
    }
    return LinkedInError(422, "DUPLICATE_POST", message, full_body=body)


def invalid_content(path: str, reason: str) -> LinkedInError:
    return LinkedInError(422, "UNPROCESSABLE_ENTITY", f"ERROR :: {path} :: {reason}\n")
