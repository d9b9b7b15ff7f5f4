"""What a post may contain on a platform, checked when a schedule is created or edited.

Each platform home declares its `ContentRules` (the numbers, with their sources, live there);
`content_problems` applies any home's rules, so every platform is checked the same way and a
schedule is refused with a 422 naming the rule instead of failing at publish time.

Media kinds are told by the URL's file extension at create time (the publishers, and Meta,
check the Content-Type when the file is fetched).

The link of a post with media, or on a platform without link cards, is written at the end of
the text (`compose_text`): no platform takes a link card and media in one post. The publishers
send, and reconciliation matches, that same composed text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

MediaKind = Literal["image", "video"]

VIDEO_EXTENSIONS = frozenset({"mp4", "mov"})


@dataclass(frozen=True, slots=True)
class PostContent:
    """A post's content as the platforms see it (no schema or ORM types)."""

    text: str
    link: str | None
    media_urls: Sequence[str]


@dataclass(frozen=True, slots=True)
class ContentProblem:
    """A rule a post breaks: `code` is the API error code, `message` names the rule."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ContentRules:
    """One platform's limits on a post's content."""

    max_text_length: int
    needs_media: bool
    image_extensions: frozenset[str]
    video_extensions: frozenset[str]
    max_media: int  # items in one post (a carousel / multi-image post)
    max_videos: int = 1
    mix_videos_and_images: bool = False
    link_cards: bool = True  # the platform shows a link as a card (a post without media)

    def media_kind(self, url: str) -> MediaKind | None:
        """What `url` is by its extension, or None when the platform takes no such file."""
        ext = url_extension(url)
        if ext in self.image_extensions:
            return "image"
        if ext in self.video_extensions:
            return "video"
        return None


def url_extension(url: str) -> str:
    """The lower-case file extension of the URL's path ("" when it has none)."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def compose_text(content: PostContent, rules: ContentRules) -> str:
    """The text the platform is sent: the link appended when it cannot be a link card."""
    if not content.link or (rules.link_cards and not content.media_urls):
        return content.text
    return f"{content.text}\n\n{content.link}" if content.text else content.link


def media_kinds(content: PostContent, rules: ContentRules) -> list[MediaKind]:
    """The kind of each media URL; `ValueError` for one the platform does not take."""
    kinds = []
    for url in content.media_urls:
        kind = rules.media_kind(url)
        if kind is None:
            raise ValueError(url)
        kinds.append(kind)
    return kinds


def content_problems(
    content: PostContent, rules: ContentRules, *, platform: str
) -> list[ContentProblem]:
    """Every rule of `rules` that `content` breaks (empty: the platform takes the post)."""
    problems: list[ContentProblem] = []
    text = compose_text(content, rules)
    if len(text) > rules.max_text_length:
        extra = " (the link is added to the text when the post has media)" if content.link else ""
        problems.append(
            ContentProblem(
                "text_too_long",
                f"content.text: {platform} accepts at most {rules.max_text_length} "
                f"characters{extra}",
            )
        )
    media = list(content.media_urls)
    if rules.needs_media and not media:
        problems.append(
            ContentProblem(
                "media_required", f"content.media_urls: {platform} posts need an image or video"
            )
        )
    kinds: list[MediaKind] = []
    for url in media:
        kind = rules.media_kind(url)
        if kind is None:
            ext = url_extension(url)
            accepted = ", ".join(sorted(rules.image_extensions | rules.video_extensions))
            what = f"a .{ext} file" if ext else "a URL without a file extension"
            problems.append(
                ContentProblem(
                    "media_type_unsupported",
                    f"content.media_urls: {platform} does not take {what} "
                    f"(it takes {accepted}, told by the URL's extension)",
                )
            )
        else:
            kinds.append(kind)
    if len(media) > rules.max_media:
        problems.append(
            ContentProblem(
                "too_many_media",
                f"content.media_urls: {platform} takes at most {rules.max_media} media per post",
            )
        )
    videos = kinds.count("video")
    if videos > rules.max_videos:
        problems.append(
            ContentProblem(
                "too_many_videos",
                f"content.media_urls: {platform} takes at most {rules.max_videos} video per post",
            )
        )
    if videos and len(kinds) > videos and not rules.mix_videos_and_images:
        problems.append(
            ContentProblem(
                "video_with_images",
                f"content.media_urls: {platform} does not take a video and images in one post",
            )
        )
    return problems
