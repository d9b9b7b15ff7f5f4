"""What schemathesis is told of the rules an OpenAPI schema cannot state.

Loaded by tests/routes/test_schemathesis.py, and by the CLI run against `postmeter serve`
(from the repository root, a workspace key in $KEY, rate limits raised, e.g.
RATE_LIMIT_PER_KEY=1000000/minute and the same for the other RATE_LIMIT_* budgets):

    SCHEMATHESIS_HOOKS=tests.routes.schemathesis_hooks schemathesis run \
        http://127.0.0.1:$PORT/openapi.json --checks all -H "Authorization: Bearer $KEY" \
        --max-examples 200 -w 1 --seed 7

(every phase: examples, coverage, fuzzing, stateful). One worker: with `-w 2` hypothesis,
generating in two threads on CPython 3.11, failed inside `ast.parse` ("SystemError: AST
constructor recursion depth mismatch", a KeyError in its lambda-source cache), errors of the
tool, not answers of the API.

The schema states every rule about a request's own shape. Two rules compare a time with the
server's clock, which a static document cannot do: a schedule's `publish_at` is not in the past
(422 `publish_at_in_past`) and an import's `published_at` is not in the future (422
`published_at_in_future`); their descriptions say so. A generated time on the wrong side of
now is moved to the right side, so that the positive-data check (ST202) still means "what the
schema admits, the server takes". Values the schema refuses are left as they are.

Other rules depend on what the request names: the accounts' platforms (a post id of the
account's platform, at most one account per platform, each platform's content rules) and
their status. A generated body meets them only by chance, and no schema of the request can
state them. Their refusals carry their own codes (STATE_DEPENDENT_CODES); an ST202 whose 422
names one of them is dropped, and any other 422 for a schema-valid request (`invalid_input`,
`invalid_cursor`, ...) still fails the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from pydantic import TypeAdapter, ValidationError
from schemathesis.openapi.checks import RejectedPositiveData

from app.schemas.common import AwareDatetime

_INSTANT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)

# (method, path) -> the body field compared with the clock, and whether it must be ahead of it.
_CLOCK_FIELDS = {
    ("POST", "/api/v1/schedules"): ("publish_at", True),
    ("PATCH", "/api/v1/schedules/{schedule_id}"): ("publish_at", True),
    ("POST", "/api/v1/schedules/import"): ("published_at", False),
}


def _on_the_right_side(value: Any, *, future: bool) -> Any:
    try:
        moment = _INSTANT.validate_python(value)
    except ValidationError:
        return value  # refused by the schema's own rule: a negative case, kept
    now = datetime.now(UTC)
    if future and moment < now + timedelta(minutes=1):
        return (now + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    if not future and moment > now - timedelta(minutes=1):
        return (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    return value


@schemathesis.hook
def map_case(_context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> Any:
    rule = _CLOCK_FIELDS.get((case.method.upper(), case.operation.path))
    if rule is not None and isinstance(case.body, dict) and case.body.get(rule[0]) is not None:
        field, future = rule
        case.body[field] = _on_the_right_side(case.body[field], future=future)
    return case


# 422 codes of rules that depend on the accounts a request names (see the module's docstring).
STATE_DEPENDENT_CODES = frozenset(
    {
        "invalid_external_id",  # a post id of another platform than the account's
        "duplicate_provider",
        "duplicate_account",  # two refs of one import on one account
        "account_disabled",
        # each platform's content rules (app.integrations.platforms.content)
        "text_too_long",
        "media_required",
        "media_type_unsupported",
        "too_many_media",
        "too_many_videos",
        "video_with_images",
    }
)


def _error_code(response: schemathesis.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


@schemathesis.hook
def filter_failure(
    _context: schemathesis.HookContext,
    failure: Any,
    _case: schemathesis.Case[Any],
    response: schemathesis.Response,
) -> bool:
    """Keep every failure but an ST202 refused by a rule on the named accounts."""
    return not (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 422
        and _error_code(response) in STATE_DEPENDENT_CODES
    )
