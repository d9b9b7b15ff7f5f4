"""Structural comparison of JSON replies: keys, nesting and JSON types; values may differ.

A real reply (a fixture) is the expectation, a sandbox reply the candidate. Rules:
- objects: every key of the expectation must be present with the same shape; keys the
  expectation lacks are reported too unless ``extra_keys=True`` (a capture that selected
  subfields, e.g. ``insights{name,values}``, shows fewer keys than a plain request returns);
- arrays: elements that carry a ``name`` (insights rows) are matched by name, falling back to
  the expectation's first element; other arrays element by element when both have the same
  length, else against the expectation's first element; an empty expectation accepts any
  array;
- numbers are one type (ints and floats); ``null`` is its own type;
- an object under a ``value`` key (an insights value such as reactions by type) is a map
  whose keys are data: only the types of its values are compared;
- strings holding JSON (batch item bodies) are compared as the JSON they hold; URLs must carry
  the query parameters that give paging links their meaning.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_LINK_PARAMS = frozenset({"access_token", "since", "until", "after", "before", "metric"})


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not JSON: {type(value).__name__}")


def shape_diff(expected: Any, actual: Any, *, extra_keys: bool = False) -> list[str]:
    """Where ``actual`` differs in structure from ``expected`` (empty: same structure)."""
    out: list[str] = []
    _compare(expected, actual, "$", extra_keys, out)
    return out


def _compare(expected: Any, actual: Any, path: str, extra: bool, out: list[str]) -> None:
    want, got = json_type(expected), json_type(actual)
    if want != got:
        out.append(f"{path}: expected {want}, got {got}")
    elif want == "object" and path.endswith(".value"):
        kinds = {json_type(v) for v in expected.values()}
        out.extend(f"{path}.{key}: expected {'/'.join(sorted(kinds))}, got {json_type(v)}"
                   for key, v in actual.items() if kinds and json_type(v) not in kinds)  # fmt: skip
    elif want == "object":
        for key in expected:
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                _compare(expected[key], actual[key], f"{path}.{key}", extra, out)
        if not extra:
            extras = [key for key in actual if key not in expected]
            out.extend(f"{path}.{key}: not in the real reply" for key in extras)
    elif want == "array":
        _compare_arrays(expected, actual, path, extra, out)
    elif want == "string":
        _compare_strings(expected, actual, path, extra, out)


def _compare_arrays(expected: list[Any], actual: list[Any], path: str, extra: bool,
                    out: list[str]) -> None:  # fmt: skip
    if not expected:
        return
    if not actual:
        out.append(f"{path}: empty, the real reply has elements")
        return
    by_name = {e["name"]: e for e in expected if isinstance(e, dict) and "name" in e}
    for index, item in enumerate(actual):
        if by_name and isinstance(item, dict):
            proto = by_name.get(item.get("name"), expected[0])
        elif len(expected) == len(actual):
            proto = expected[index]
        else:
            proto = expected[0]
        _compare(proto, item, f"{path}[{index}]", extra, out)


def _compare_strings(expected: str, actual: str, path: str, extra: bool, out: list[str]) -> None:
    parsed = _json_object(expected)
    if parsed is not None:
        other = _json_object(actual)
        if other is None:
            out.append(f"{path}: expected a JSON-encoded object")
        else:
            _compare(parsed, other, f"{path}<json>", extra, out)
    elif expected.startswith(("http://", "https://")):
        want = {k for k, _ in parse_qsl(urlsplit(expected).query)} & _LINK_PARAMS
        have = {k for k, _ in parse_qsl(urlsplit(actual).query)}
        out.extend(f"{path}: link lacks ?{key}=" for key in sorted(want - have))


def _json_object(text: str) -> Any:
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
