"""Each platform's content rules (the numbers in its home) as `content_problems` applies them."""

from __future__ import annotations

import pytest

from app.core.vocabulary import Provider
from app.integrations.platforms import platform_for
from app.integrations.platforms.content import (
    PostContent,
    compose_text,
    content_problems,
    url_extension,
)


def codes(provider: Provider, text: str = "hi", link: str | None = None, *media: str) -> list[str]:
    rules = platform_for(provider).content_rules
    post = PostContent(text=text, link=link, media_urls=list(media))
    return [p.code for p in content_problems(post, rules, platform=provider.value)]


def imgs(n: int, ext: str = "jpg") -> list[str]:
    return [f"https://cdn.example.com/p{i}.{ext}" for i in range(n)]


FB, IG, LI = Provider.FACEBOOK, Provider.INSTAGRAM, Provider.LINKEDIN
VIDEO = "https://cdn.example.com/clip.mp4"
MOV = "https://cdn.example.com/clip.MOV"


@pytest.mark.parametrize(
    ("provider", "text", "media", "expected"),
    [
        (IG, "x" * 2200, imgs(1), []),
        (IG, "x" * 2201, imgs(1), ["text_too_long"]),
        (LI, "x" * 3001, [], ["text_too_long"]),
        (FB, "x" * 63_206, [], []),
        (IG, "caption", [], ["media_required"]),
        (IG, "c", imgs(10), []),
        (IG, "c", imgs(11), ["too_many_media"]),
        (IG, "c", [*imgs(3), VIDEO, MOV], []),  # carousels mix images and videos
        (IG, "c", imgs(1, "png"), ["media_type_unsupported"]),  # Meta: JPEG only
        (IG, "c", [MOV], []),  # a Reel
        (LI, "t", imgs(20, "png"), []),
        (LI, "t", imgs(21), ["too_many_media"]),
        (LI, "t", [VIDEO, VIDEO], ["too_many_videos"]),
        (LI, "t", [VIDEO, *imgs(1)], ["video_with_images"]),
        (LI, "t", [MOV], ["media_type_unsupported"]),  # Videos API: MP4
        (LI, "t", imgs(1, "webp"), ["media_type_unsupported"]),
        (FB, "t", imgs(10, "png"), []),
        (FB, "t", [VIDEO, *imgs(2)], ["video_with_images"]),
        (FB, "t", ["https://cdn.example.com/photo?id=3"], ["media_type_unsupported"]),
    ],
)
def test_rules(provider: Provider, text: str, media: list[str], expected: list[str]) -> None:
    assert codes(provider, text, None, *media) == expected


def test_the_link_joins_the_text_when_it_cannot_be_a_card() -> None:
    link = "https://example.com/a"
    fb = platform_for(FB).content_rules
    ig = platform_for(IG).content_rules
    assert compose_text(PostContent("hello", link, []), fb) == "hello"  # a link card
    assert compose_text(PostContent("hello", link, imgs(1)), fb) == f"hello\n\n{link}"
    assert compose_text(PostContent("hello", link, imgs(1)), ig) == f"hello\n\n{link}"
    assert compose_text(PostContent("", link, imgs(1)), ig) == link
    # The appended link counts against the text limit.
    assert codes(IG, "x" * 2190, link, *imgs(1)) == ["text_too_long"]


def test_messages_name_the_platform_and_rule() -> None:
    rules = platform_for(LI).content_rules
    post = PostContent("t", None, imgs(21))
    (problem,) = content_problems(post, rules, platform="linkedin")
    assert problem.message == "content.media_urls: linkedin takes at most 20 media per post"


@pytest.mark.parametrize(
    ("url", "ext"),
    [
        ("https://x.example/a/b.JPG", "jpg"),
        ("https://x.example/a/b.jpeg?w=3#f", "jpeg"),
        ("https://x.example/a.b/c", ""),
        ("https://x.example/clip%2Emp4", "mp4"),
        ("https://x.example/", ""),
    ],
)
def test_url_extension(url: str, ext: str) -> None:
    assert url_extension(url) == ext
