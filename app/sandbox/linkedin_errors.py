"""LinkedIn error bodies: ``{"status", "code", "message"}`` (+ ``serviceErrorCode``)."""

from __future__ import annotations

from typing import Any


class LinkedInError(Exception):
    def __init__(
        self, status: int, code: str | None, message: str, service_error_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.service_error_code = service_error_code

    def body(self) -> dict[str, Any]:
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
