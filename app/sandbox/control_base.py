"""Plumbing of the control API handlers: JSON body, typed fields, error mapping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.sandbox.state import SandboxState

Body = dict[str, Any]
_READS = frozenset({"GET", "HEAD"})  # control reads: no state-file rewrite


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def _body(request: Request) -> Body:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def body_field(
    body: Body,
    key: str,
    kind: type | tuple[type, ...],
    default: Any = None,
    *,
    required: bool = False,
) -> Any:
    if key not in body or body[key] is None:
        if required:
            raise ControlError(400, f"{key} is required")
        return default
    value = body[key]
    if not isinstance(value, kind) or (
        isinstance(value, bool) and kind in (int, float, (int, float))
    ):
        raise ControlError(400, f"{key} has the wrong type")
    return value


class Ctl:
    """What a control handler gets: the request, the sandbox state and the JSON body."""

    __slots__ = ("body", "request", "state")

    def __init__(self, request: Request, state: SandboxState, body: Body) -> None:
        self.request = request
        self.state = state
        self.body = body

    def field(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        return body_field(self.body, key, kind, default, required=required)

    def scopes(self) -> tuple[str, ...] | None:
        return body_scopes(self.body)


def endpoint(fn: Callable[[Ctl], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def wrapper(request: Request) -> Response:
        state = _state(request)
        try:
            result = await fn(Ctl(request, state, await _body(request)))
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        except KeyError as exc:
            return JSONResponse({"error": str(exc.args[0]) if exc.args else "not found"}, 404)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        if request.method not in _READS:
            state.touch()  # GETs only read: they must not make the saver rewrite the file
        return JSONResponse(result)

    return wrapper


def body_scopes(body: Body) -> tuple[str, ...] | None:
    scopes = body_field(body, "scopes", list)
    return tuple(str(s) for s in scopes) if scopes is not None else None
