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
`published_at_in_future`); their descriptions say so. An ST202 refused with one of those codes
is dropped (CLOCK_CODES); generated times fall on both sides of now, so the accepted side is
still checked. (These hooks used to move such times to the right side in a `map_case` hook;
with any `map_case` hook registered, schemathesis's fuzzing of `PATCH /api/v1/schedules/{id}`
failed hypothesis's `large_base_example` health check from a fresh example database, before
sending a request, and `--suppress-health-check` did not lift it.)

Other rules depend on what the request names: the accounts' platforms (a post id of the
account's platform, at most one account per platform, each platform's content rules) and
their status. A generated body meets them only by chance, and no schema of the request can
state them. Their refusals carry their own codes (STATE_DEPENDENT_CODES); an ST202 whose 422
names one of them is dropped, and any other 422 for a schema-valid request (`invalid_input`,
`invalid_cursor`, ...) still fails the run.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# 422 codes of the rules that compare a time with the server's clock.
CLOCK_CODES = frozenset({"publish_at_in_past", "published_at_in_future"})


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
    """Keep every failure but an ST202 refused by a rule on the named accounts or the clock."""
    return not (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 422
        and _error_code(response) in STATE_DEPENDENT_CODES | CLOCK_CODES
    )
