"""The README and the sandbox guide promise only what exists: every `postmeter` command line in
their shell blocks names a real command and real options, and publishing is announced as not
built for as long as there is no scheduler engine."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from app.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/sandbox.md"]
SHELL_BLOCK = re.compile(r"```(?:sh|bash)\n(.*?)```", re.DOTALL)
COMMAND = re.compile(r"(?:^|\$\(|\s)((?:\.venv/bin/)?postmeter\s[^#)\"\n]*)")


def _command_lines(doc: str) -> list[str]:
    text = (ROOT / doc).read_text()
    lines = []
    for block in SHELL_BLOCK.findall(text):
        for line in block.splitlines():
            lines += [m.strip() for m in COMMAND.findall(line.split("#", 1)[0] + " ")]
    return lines


def _check(line: str) -> None:
    words = shlex.split(line)[1:]
    command: Any = typer.main.get_command(cli)  # typer's own click: duck-typed
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        sub = command.commands.get(words[0])
        assert sub is not None, f"{line!r}: no command {words[0]!r}"
        command, words = sub, words[1:]
    options = {opt for param in command.params for opt in param.opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in options, f"{line!r}: no option {word!r}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_command_exists(doc: str) -> None:
    lines = _command_lines(doc)
    assert len(lines) >= 5, lines  # the pattern still finds the commands
    for line in lines:
        _check(line)


def test_the_checker_catches_a_made_up_command() -> None:
    with pytest.raises(AssertionError, match="no option"):
        _check("postmeter sandbox --publish")
    with pytest.raises(AssertionError, match="no command"):
        _check("postmeter teleport now")


def test_publishing_is_announced_as_not_built_while_there_is_no_engine() -> None:
    readme = (ROOT / "README.md").read_text()
    # Publishers alone publish nothing: the scheduler engine is what makes a schedule a post.
    if not (ROOT / "app" / "scheduler" / "engine.py").exists():
        assert "**Not built yet: publishing.**" in readme
        assert "publishes them" not in readme
