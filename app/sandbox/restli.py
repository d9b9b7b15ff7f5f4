"""Rest.li 2.0 query syntax: ``List(a,b)``, records ``(k:v,k2:(x:1))`` and escaped scalars.

Values are parsed from the *raw* query string, so reserved characters inside URNs must be
percent-encoded (``urn%3Ali%3Ashare%3A1``), as LinkedIn requires with protocol 2.0.0.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, unquote_plus

_RESERVED = "(),:'"


class RestliSyntaxError(ValueError):
    pass


class _Parser:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _fail(self, what: str) -> RestliSyntaxError:
        return RestliSyntaxError(f"{what} at position {self.pos} in {self.text!r}")

    def value(self) -> Any:
        text = self.text
        if text.startswith("List(", self.pos):
            self.pos += 5
            items: list[Any] = []
            if self._peek() == ")":
                self.pos += 1
                return items
            while True:
                items.append(self.value())
                char = self._next()
                if char == ")":
                    return items
                if char != ",":
                    raise self._fail("expected ',' or ')'")
        if self._peek() == "(":
            self.pos += 1
            record: dict[str, Any] = {}
            if self._peek() == ")":
                self.pos += 1
                return record
            while True:
                key = self._scalar()
                if self._next() != ":":
                    raise self._fail("expected ':'")
                record[key] = self.value()
                char = self._next()
                if char == ")":
                    return record
                if char != ",":
                    raise self._fail("expected ',' or ')'")
        return self._scalar()

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        char = self._peek()
        if not char:
            raise self._fail("unexpected end")
        self.pos += 1
        return char

    def _scalar(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _RESERVED:
            self.pos += 1
        return unquote(self.text[start : self.pos])


def parse_value(raw: str) -> Any:
    """Parse one raw (still percent-encoded) Rest.li value."""
    parser = _Parser(raw)
    value = parser.value()
    if parser.pos != len(raw):
        raise RestliSyntaxError(
            f"unexpected {raw[parser.pos]!r} at position {parser.pos} in {raw!r}"
        )
    return value


def raw_query(query_string: bytes | str) -> dict[str, str]:
    """Split a query string without decoding the values (keys are decoded)."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    out: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[unquote_plus(key)] = value
    return out


def plain(raw: str) -> str:
    """A top-level scalar parameter (``q=entity``, ``organizationalEntity=urn%3A..``)."""
    return unquote_plus(raw)
