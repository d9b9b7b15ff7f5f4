"""The hot-path JSON helpers behave like the standard library where callers depend on it."""

from __future__ import annotations

import gc
import json

import pytest

from app.core import jsonfast
from app.core.runtime import GC_GEN0_THRESHOLD, tune_gc_for_service


def test_round_trip_and_compact_utf8() -> None:
    value = {"name": "café", "n": [1, 2.5, None, True], "nested": {"a": "\x00"}}
    text = jsonfast.dumps(value)
    assert jsonfast.loads(text) == value
    assert jsonfast.loads(text.encode()) == value
    assert " " not in text
    assert "café" in text
    assert "\\u0000" in text  # NUL stays escaped (PostgreSQL JSONB refuses a raw one)


@pytest.mark.parametrize("bad", ["{", "", "nul", b"\xff\xfe", '{"a": 1,}'])
def test_malformed_input_raises_value_error(bad: str | bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the contract is "a ValueError"
        jsonfast.loads(bad)


def test_dumps_falls_back_for_what_orjson_refuses() -> None:
    big = {"id": 2**70, 3: "int key"}
    assert json.loads(jsonfast.dumps(big)) == {"id": 2**70, "3": "int key"}


def test_tune_gc_for_service_freezes_start_up_objects_and_raises_gen0() -> None:
    before = gc.get_threshold()
    try:
        tune_gc_for_service()
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.parametrize("bad", ["{", "", b"\xff\xfe", '{"a": 1,}'])
def test_loads_or_returns_the_default_on_malformed_input(bad: str | bytes) -> None:
    assert jsonfast.loads_or(bad) is None
    fallback: dict[str, int] = {}
    assert jsonfast.loads_or(bad, fallback) is fallback


def test_loads_or_parses_well_formed_input() -> None:
    assert jsonfast.loads_or(b'{"a": [1]}', {}) == {"a": [1]}
    assert jsonfast.loads_or("null", {}) is None  # a parsed null is not the default
