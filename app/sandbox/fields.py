"""Parser for Graph's ``fields=`` grammar with field expansion.

    fields   := field ("," field)*
    field    := name modifier* ("{" fields "}")?
    modifier := "." name "(" [arg ("," arg)*] ")"

e.g. ``reactions.limit(0).summary(true),insights.metric(a,b).period(lifetime),owner{id}``.
Parsed results are cached: clients poll with the same few field strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class FieldsSyntaxError(ValueError):
    def __init__(self, expected: str, found: str, position: int, text: str) -> None:
        shown = f'"{found}"' if found else "end of string"
        super().__init__(
            f'Syntax error "Expected {expected} instead of {shown}." at character {position}: '
            f"{text}"
        )
        self.position = position


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    modifiers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    children: tuple[FieldSpec, ...] | None = None

    def modifier(self, name: str) -> tuple[str, ...] | None:
        for key, args in self.modifiers:
            if key == name:
                return args
        return None

    @property
    def alias(self) -> str:
        args = self.modifier("as")
        return args[0] if args else self.name


class _Parser:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        self._skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def _fail(self, expected: str) -> FieldsSyntaxError:
        found = self.text[self.pos] if self.pos < len(self.text) else ""
        return FieldsSyntaxError(expected, found, self.pos, self.text)

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._fail(f'"{char}"')
        self.pos += 1

    def _name(self) -> str:
        self._skip_space()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        if start == self.pos:
            raise self._fail("a field name")
        return self.text[start : self.pos]

    def _args(self) -> tuple[str, ...]:
        self._expect("(")
        args: list[str] = []
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif char in ",)" and not depth:
                arg = self.text[start : self.pos].strip()
                if arg or char == "," or args:
                    args.append(arg)
                self.pos += 1
                if char == ")":
                    return tuple(args)
                start = self.pos
                continue
            self.pos += 1
        raise self._fail('")"')

    def fields(self, nested: bool) -> tuple[FieldSpec, ...]:
        specs = [self.field()]
        while self._peek() == ",":
            self.pos += 1
            specs.append(self.field())
        nxt = self._peek()
        if nxt and not (nested and nxt == "}"):
            raise self._fail('"}"' if nested else "end of string")
        return tuple(specs)

    def field(self) -> FieldSpec:
        name = self._name()
        modifiers: list[tuple[str, tuple[str, ...]]] = []
        while self._peek() == ".":
            self.pos += 1
            modifiers.append((self._name(), self._args()))
        children = None
        if self._peek() == "{":
            self.pos += 1
            children = self.fields(nested=True)
            self._expect("}")
        return FieldSpec(name, tuple(modifiers), children)


@lru_cache(maxsize=1024)
def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    """Parse a ``fields`` parameter; raises :class:`FieldsSyntaxError`."""
    if not text.strip():
        return ()
    return _Parser(text).fields(nested=False)


def split_list(value: str) -> list[str]:
    """Graph list parameters: ``a,b,c`` or a JSON-ish ``["a","b"]``."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [item.strip().strip("\"'") for item in value.split(",") if item.strip()]
