"""The platform homes: one per provider behind one interface, each holding its platform's rules."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from app.core.config import Settings
from app.core.metrics import METRIC_FIELDS
from app.core.vocabulary import MetricsSource, Provider
from app.integrations.errors import (
    PlatformPermissionError,
    ThrottledError,
    TokenError,
    TransientError,
)
from app.integrations.platforms import (
    PLATFORMS,
    ErrorReply,
    InsightsClients,
    MetricsRequest,
    app_throttle_keys,
    platform_for,
)
from app.integrations.platforms.facebook_metrics import FB_KNOWN_METRICS
from app.integrations.platforms.instagram_metrics import IG_KNOWN_METRICS
from app.integrations.platforms.linkedin import (
    LINKEDIN_CORE_FIELDS,
    MEMBER_METRICS,
    next_utc_midnight,
)
from app.integrations.platforms.meta import META_APP_THROTTLE_KEY
from app.integrations.types import PostFetchResult

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
INTEGRATIONS = Path(__file__).resolve().parents[2] / "app" / "integrations"


def test_every_provider_has_one_home() -> None:
    assert set(PLATFORMS) == set(Provider)
    for provider, home in PLATFORMS.items():
        assert home.provider == provider
        assert platform_for(provider) is home
        assert platform_for(provider.value) is home  # the stored string finds it too


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="twitter"):
        platform_for("twitter")


@pytest.mark.parametrize(
    ("provider", "good", "bad"),
    [
        (Provider.FACEBOOK, ["123_456", "987654"], ["abc", "123_", "urn:li:share:1"]),
        (Provider.INSTAGRAM, ["17900000000000001"], ["123_456", "x1"]),
        (
            Provider.LINKEDIN,
            ["urn:li:share:123", "urn:li:ugcPost:7"],
            ["urn:li:activity:1", "urn:li:share:abc", "urn:li:share:1 ", "123"],
        ),
    ],
)
def test_post_id_rules(provider: Provider, good: list[str], bad: list[str]) -> None:
    rule = platform_for(provider).post_id
    for value in good:
        rule.check(provider, value)
    for value in bad:
        with pytest.raises(ValueError, match=f"external_id for {provider.value} must be"):
            rule.check(provider, value)


@pytest.mark.parametrize(
    ("provider", "account_id", "kind"),
    [
        (Provider.FACEBOOK, "1234", "page"),
        (Provider.INSTAGRAM, "1789", "instagram_user"),
        (Provider.LINKEDIN, "urn:li:organization:42", "organization"),
        (Provider.LINKEDIN, "urn:li:person:AbC-9_x", "member"),
    ],
)
def test_account_ids_and_their_kind(provider: Provider, account_id: str, kind: str) -> None:
    home = platform_for(provider)
    home.account_id.check(provider, account_id)
    assert home.account_kind(account_id) == kind


def test_linkedin_account_id_must_be_an_organization_or_person_urn() -> None:
    rule = platform_for(Provider.LINKEDIN).account_id
    for value in ("urn:li:share:1", "urn:li:organization:", "42", "urn:li:person:a b"):
        with pytest.raises(ValueError, match="organization or person URN"):
            rule.check(Provider.LINKEDIN, value)


def test_metrics_source_and_api_version_come_from_the_home() -> None:
    settings = Settings(
        _env_file=None, META_GRAPH_API_VERSION="v99.0", LINKEDIN_API_VERSION="209912"
    )
    assert platform_for(Provider.FACEBOOK).metrics_source == MetricsSource.META
    assert platform_for(Provider.INSTAGRAM).api_version(settings) == "v99.0"
    assert platform_for(Provider.LINKEDIN).metrics_source == MetricsSource.LINKEDIN
    assert platform_for(Provider.LINKEDIN).api_version(settings) == "209912"


def test_text_and_media_rules() -> None:
    assert platform_for(Provider.INSTAGRAM).content_rules.needs_media
    assert not platform_for(Provider.FACEBOOK).content_rules.needs_media
    assert platform_for(Provider.LINKEDIN).content_rules.max_text_length == 3_000
    assert platform_for(Provider.INSTAGRAM).content_rules.max_text_length == 2_200


def test_meta_throttles_app_wide_or_per_account() -> None:
    home = platform_for(Provider.FACEBOOK)
    app = ThrottledError("app limit", provider="facebook", scope="app")
    page = ThrottledError("page limit", provider="facebook", scope="page")
    assert home.throttle_key(app, "account:1") == META_APP_THROTTLE_KEY
    assert home.throttle_key(page, "account:1") == "account:1"
    assert home.throttled_until(page, NOW) == NOW + timedelta(minutes=15)
    hinted = ThrottledError("x", provider="instagram", retry_after=NOW + timedelta(minutes=3))
    assert platform_for(Provider.INSTAGRAM).throttled_until(hinted, NOW) == hinted.retry_after
    assert app_throttle_keys() == {META_APP_THROTTLE_KEY}
    assert platform_for(Provider.LINKEDIN).app_throttle_keys == ()


def test_linkedin_throttles_per_account_until_its_daily_reset() -> None:
    home = platform_for(Provider.LINKEDIN)
    error = ThrottledError("429", provider="linkedin", scope="app")
    assert home.throttle_key(error, "account:1") == "account:1"
    assert home.throttled_until(error, NOW) == datetime(2026, 11, 25, tzinfo=UTC)
    assert next_utc_midnight(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_error_classification_goes_through_the_home() -> None:
    expired = ErrorReply(
        400, {"error": {"code": 190, "message": "expired s3cret-tok3n"}}, ["s3cret-tok3n"]
    )
    error = platform_for(Provider.FACEBOOK).classify_error(expired)
    assert isinstance(error, TokenError)
    assert "s3cret-tok3n" not in error.message  # the reply's secrets are masked
    linkedin = platform_for(Provider.LINKEDIN)
    assert isinstance(linkedin.classify_error(ErrorReply(403, {})), PlatformPermissionError)
    assert isinstance(linkedin.classify_error(ErrorReply(None, b"")), TransientError)


class _Recorder:
    """Stands in for both clients and records which statistics call was made."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    @property
    def meta(self) -> _Recorder:
        return self

    @property
    def linkedin(self) -> _Recorder:
        return self

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> dict[str, PostFetchResult]:
            self.calls.append((name, args, kwargs))
            return {}

        return call


@pytest.mark.parametrize(
    ("provider", "account_id", "method", "account_arg"),
    [
        (Provider.FACEBOOK, "111", "get_fb_post_insights", ("page_id", "111")),
        (Provider.INSTAGRAM, "222", "get_ig_media_insights", ("ig_user_id", "222")),
        (Provider.LINKEDIN, "urn:li:organization:3", "get_ugc_stats", None),
        (Provider.LINKEDIN, "urn:li:person:abc", "get_member_post_stats", None),
    ],
)
async def test_fetch_metrics_calls_the_platforms_statistics_api(
    provider: Provider, account_id: str, method: str, account_arg: tuple[str, str] | None
) -> None:
    recorder = _Recorder()
    posts: Sequence[str] = ["p1", "p2"]
    types: Mapping[str, str] = {"p1": "VIDEO"}
    request = MetricsRequest("tok", account_id, posts, types)
    await platform_for(provider).fetch_metrics(cast(InsightsClients, recorder), request)
    [(name, args, kwargs)] = recorder.calls
    assert name == method
    assert args[0] == "tok"
    assert list(args[-1]) == posts
    if account_arg is not None:
        assert kwargs[account_arg[0]] == account_arg[1]
        assert kwargs["media_types"] == types
    elif method == "get_ugc_stats":
        assert args[1] == account_id


def test_linkedin_mapping_tells_organization_from_member_statistics() -> None:
    home = platform_for(Provider.LINKEDIN)
    org = {"totalShareStatistics": {"impressionCount": 10, "clickCount": 2, "likeCount": 1}}
    member = {"metrics": {"IMPRESSION": 7, "REACTION": 3}}
    assert home.map_metrics(org, media_type=None).clicks == 2
    assert home.map_metrics(org, media_type=None, fields=["impressionCount"]).clicks is None
    mapped = home.map_metrics(member, media_type=None)
    assert (mapped.impressions, mapped.likes, mapped.clicks) == (7, 3, None)


def _graph_rows(names: Sequence[str]) -> dict[str, Any]:
    return {"data": [{"name": n, "period": "lifetime", "values": [{"value": 5}]} for n in names]}


def _mapped(home_payloads: Sequence[tuple[Mapping[str, Any], str | None]], home: Any) -> set[str]:
    filled: set[str] = set()
    for payload, media_type in home_payloads:
        values = home.map_metrics(payload, media_type=media_type)
        filled |= {name for name, value in values.as_dict().items() if value is not None}
    return filled


def test_reported_metrics_are_what_the_mappers_can_fill() -> None:
    counts = {"reactions": {"summary": {"total_count": 3}},
              "comments": {"summary": {"total_count": 2}}, "shares": {"count": 1}}  # fmt: skip
    fb_post = {"id": "1_2", "insights": _graph_rows(sorted(FB_KNOWN_METRICS)), **counts}
    ig_media = {"id": "9", "insights": _graph_rows(sorted(IG_KNOWN_METRICS)),
                "like_count": 4, "comments_count": 1}  # fmt: skip
    org = {"totalShareStatistics": dict.fromkeys(LINKEDIN_CORE_FIELDS, 1)}
    member = {"metrics": dict.fromkeys(MEMBER_METRICS, 1)}
    payloads: dict[Provider, list[tuple[Mapping[str, Any], str | None]]] = {
        Provider.FACEBOOK: [(fb_post, "video_post"), (fb_post, None)],
        Provider.INSTAGRAM: [(ig_media, "REELS/VIDEO"), (ig_media, "FEED/IMAGE")],
        Provider.LINKEDIN: [(org, None), (member, None)],
    }
    for provider, home in PLATFORMS.items():
        assert _mapped(payloads[provider], home) == home.reported_metrics, provider
        assert home.reported_metrics <= set(METRIC_FIELDS)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_integrations_depend_only_on_core() -> None:
    offenders = {
        f"{path.relative_to(INTEGRATIONS)}: {name}"
        for path in INTEGRATIONS.rglob("*.py")
        for name in _imports(path)
        if name.startswith("app.") and not name.startswith(("app.core", "app.integrations"))
    }
    assert not offenders
