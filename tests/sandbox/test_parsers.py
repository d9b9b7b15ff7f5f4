"""The fields grammar and the Rest.li value syntax."""

from __future__ import annotations

import pytest

from app.integrations.linkedin_insights import member_entity, restli_list
from app.sandbox.fields import FieldSpec, FieldsSyntaxError, parse_fields, split_list
from app.sandbox.restli import RestliSyntaxError, parse_value, raw_query


def test_fields_grammar() -> None:
    specs = parse_fields(
        "reactions.limit(0).summary(true), insights.metric(a,b).period(lifetime),"
        "owner{id,name{first}},x.as(y)"
    )
    assert specs[0] == FieldSpec("reactions", (("limit", ("0",)), ("summary", ("true",))))
    assert specs[1].modifier("metric") == ("a", "b")
    assert specs[1].modifier("period") == ("lifetime",)
    assert specs[2].children is not None
    assert specs[2].children[1].children == (FieldSpec("first"),)
    assert specs[3].alias == "y"
    assert parse_fields("insights.metric()")[0].modifier("metric") == ()


@pytest.mark.parametrize("bad", ["a,", "a.b", "a{b", "a}", "a.limit(0", "a b", "{a}"])
def test_fields_syntax_errors(bad: str) -> None:
    with pytest.raises(FieldsSyntaxError):
        parse_fields(bad)


def test_split_list() -> None:
    assert split_list("a, b,c") == ["a", "b", "c"]
    assert split_list('["a","b"]') == ["a", "b"]


def test_restli_values() -> None:
    assert parse_value("List(urn%3Ali%3Ashare%3A1,urn%3Ali%3AugcPost%3A2)") == [
        "urn:li:share:1",
        "urn:li:ugcPost:2",
    ]
    assert parse_value("(share:urn%3Ali%3Ashare%3A1)") == {"share": "urn:li:share:1"}
    assert parse_value("(start:(day:1,month:5,year:2024))") == {
        "start": {"day": "1", "month": "5", "year": "2024"}
    }
    assert parse_value("List()") == []
    assert raw_query(b"q=entity&shares=List(a%3Ab)") == {"q": "entity", "shares": "List(a%3Ab)"}


def test_restli_decodes_what_the_app_sends() -> None:
    """The sandbox parser reads the values Postmeter's LinkedIn client builds."""
    urns = ["urn:li:share:1", "urn:li:ugcPost:2", "urn:li:share:(odd)"]
    assert parse_value(restli_list(urns)) == urns
    assert parse_value(restli_list([])) == []
    assert parse_value(member_entity("urn:li:share:7")) == {"share": "urn:li:share:7"}
    assert parse_value(member_entity("urn:li:ugcPost:8")) == {"ugc": "urn:li:ugcPost:8"}


@pytest.mark.parametrize(
    "bad", ["List(urn:li:share:1)", "(share:urn:li:share:1)", "List(a,b", "(a)"]
)
def test_restli_rejects_unencoded_and_broken(bad: str) -> None:
    with pytest.raises(RestliSyntaxError):
        parse_value(bad)
