"""A schedule's content checked against each target platform's rules when it is created or
edited, so a post the platform would refuse is a 422 naming the rule, not a failure at publish
time. The rules are the platform homes' (`content_rules`); the URL check is the media
fetcher's cheap, syntactic one (names are resolved and checked again when fetched)."""

from __future__ import annotations

from collections.abc import Sequence

from app.core.errors import InvalidInput
from app.core.vocabulary import Provider
from app.integrations.platforms import platform_for
from app.integrations.platforms.content import PostContent, content_problems
from app.publishers.media import url_address_problem
from app.schemas.schedules import Content


def post_content(content: Content) -> PostContent:
    """The schema's content as the platform homes take it."""
    return PostContent(
        text=content.text,
        link=str(content.link) if content.link else None,
        media_urls=[str(url) for url in content.media_urls],
    )


def check_content_urls(content: Content, *, allow_private_urls: bool) -> None:
    """`InvalidInput` (422 `link_refused` / `media_url_refused`) for a link or media URL that
    names a private, loopback or link-local address or a local name (no DNS here)."""
    post = post_content(content)
    if post.link and (problem := url_address_problem(post.link, allow_private=allow_private_urls)):
        raise InvalidInput(f"content.link: {problem}", code="link_refused")
    for url in post.media_urls:
        if problem := url_address_problem(url, allow_private=allow_private_urls):
            raise InvalidInput(f"content.media_urls: {problem}", code="media_url_refused")


def check_content(
    content: Content, providers: Sequence[Provider], *, allow_private_urls: bool
) -> None:
    """`InvalidInput` (422) with the first rule `content` breaks on any of `providers`."""
    post = post_content(content)
    check_content_urls(content, allow_private_urls=allow_private_urls)
    for provider in providers:
        problems = content_problems(
            post, platform_for(provider).content_rules, platform=provider.value
        )
        if problems:
            raise InvalidInput(problems[0].message, code=problems[0].code)
    if not post.text and not post.media_urls and not post.link:
        raise InvalidInput("content: a post needs text, a link or media", code="empty_content")
