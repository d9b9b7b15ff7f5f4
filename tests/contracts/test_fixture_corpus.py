"""The contract fixtures themselves: each loads, names its source, and holds no real token."""

from __future__ import annotations

import json
import re

import pytest

from tests.contracts.platform_replies import ROOT, TOKEN_MARKER, all_names, load

# Meta user/page tokens start with EAA; LinkedIn tokens with AQ. Only the marker may appear.
_TOKEN_RE = re.compile(r"\b(EAA[0-9A-Za-z]{20,}|AQ[A-Za-z0-9_-]{40,})")
REQUIRED = {
    "facebook/post_insights_lifetime", "facebook/post_insights_time_paging_capture",
    "facebook/post_counts", "facebook/video_insights_capture",
    "instagram/media_insights_feed", "instagram/media_insights_reels",
    "instagram/media_insights_story", "graph/batch_partial", "graph/error_100_invalid_metric",
    "graph/error_190_460_password_changed", "graph/error_190_463_expired",
    "graph/error_190_467_logged_out", "graph/error_4_app_limit", "graph/error_17_user_limit",
    "graph/error_32_page_limit", "graph/error_80001_pages_buc",
    "linkedin/share_statistics_lifetime", "linkedin/member_post_analytics_total",
    "linkedin/error_401_invalid_token", "linkedin/error_403_access_denied",
    "linkedin/error_426_nonexistent_version", "linkedin/error_429_throttled",
}  # fmt: skip


def test_the_corpus_covers_what_the_contract_needs() -> None:
    assert REQUIRED <= set(all_names())


@pytest.mark.parametrize("name", all_names())
def test_fixture_names_its_source_and_holds_no_token(name: str) -> None:
    reply = load(name)  # raises on a missing source, kind or notes
    assert reply.source.kind in ("documentation", "capture")
    text = (ROOT / f"{name}.json").read_text(encoding="utf-8")
    assert [m for m in _TOKEN_RE.findall(text) if m != TOKEN_MARKER] == []


def test_time_paging_links_in_the_capture_carry_a_window_and_the_token() -> None:
    paging = load("facebook/post_insights_time_paging_capture").body["insights"]["paging"]
    for link in paging.values():
        assert "since=" in link
        assert "until=" in link
        assert f"access_token={TOKEN_MARKER}" in link
    batch = load("graph/batch_partial").body
    assert batch[-1] is None
    assert all(isinstance(json.loads(item["body"]), dict) for item in batch[:-1])
