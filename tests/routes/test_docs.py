"""`/docs` and `/redoc` work without internet: every asset they load is served by the app."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

# Any absolute or protocol-relative address: a page that holds one needs another host.
EXTERNAL = re.compile(r"""(?:https?:)?//[\w.-]+""")


class _Assets(HTMLParser):
    """The addresses a browser fetches to render the page (scripts, styles, icons)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {".js", ".css", ".png"}),
        ("/redoc", {".js", ".png"}),
    ],
)
async def test_docs_pages_load_only_local_assets(
    client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    r = await client.get(page)
    assert r.status_code == 200, r.text
    assert EXTERNAL.findall(r.text) == []
    parser = _Assets()
    parser.feed(r.text)
    assert {url[url.rfind(".") :] for url in parser.urls} == expected
    for url in parser.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url  # the real bundle, not an empty placeholder
    # The schema the page renders is this app's, at the address the page names.
    assert "/openapi.json" in r.text
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Postmeter"


def test_external_pattern_catches_cdn_and_protocol_relative_urls() -> None:
    cdn = '<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/x.js">'
    assert EXTERNAL.findall(cdn)
    assert EXTERNAL.findall('<link href="//fonts.googleapis.com/css">')
    assert not EXTERNAL.findall('<script src="/docs-assets/swagger-ui-bundle.js">')
