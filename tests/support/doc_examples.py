"""The examples of the README and docs/*.md, as blocks a test can run and compare.

What a page shows is checked, not trusted (issue #20 item 8):

* a ```` ```console ```` block is a shell session: each ``$ command`` line runs as pasted (bash,
  in a folder holding the quickstart's store, with ``.venv/bin/lolpop`` and ``.venv/bin/mlflow``
  there, as in the repository after ``make quickstart``) and what it prints, stdout and stderr
  together, must equal the lines below it;
* a ```` ```console ```` block with no ``$`` line right after a ```` ```python ```` block is what
  that snippet prints;
* every ```` ```python ```` block runs as pasted: in a fresh empty folder, or in the quickstart
  folder when the line before its fence is ``<!-- run: quickstart -->`` (snippets that only read).

Outputs are compared after :func:`normalize`: run ids, hexshas, times and durations differ from
one quickstart to the next, so each is replaced by a same-length mask (rich tables keep their
layout); everything else — keys such as ``test_accuracy=``, values, column headings, line breaks
at 100 columns — must be exactly as shown. A masked id must stand for the same real one
wherever it appears, and a command naming one (``--run 96efc25c…``, ``--at 2026-…``) runs with the
real one it stood for in earlier output.

``LOLPOP_DOCS_REGEN=1`` rewrites the shown outputs (and the ids in the shown commands) from the run
instead of comparing: for a change that alters output on purpose; review the diff.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Pages whose examples are checked: the README and every page of the docs site.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WIDTH = 100  # the terminal width the shown outputs were taken at

FENCE = re.compile(r"^```(\w*)\s*$")  # a bare ``` block (a diagram) is not an example
RUN_MARK = re.compile(r"^<!-- run: (\w+) -->\s*$")

HEX = re.compile(r"\b(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{7,40})\b")
TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2})?)?\b"
                  r"|\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\b|\b\d{8}-\d{6}\b|\b\d+:\d{2}:\d{2}\b")
VENV_BIN = re.compile(r"(?<![\w.])/\S*?/\.venv/bin/")
FILE_URI = re.compile(r"file://\S*?/mlartifacts/")


@dataclass
class Block:
    page: Path
    start: int  # index of the opening fence line in the page
    end: int  # index of the closing fence line
    lang: str
    lines: list[str]
    mark: str | None = None  # the <!-- run: X --> mark before the fence

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.start + 1}"


@dataclass
class Step:
    """One ``$ command`` of a console block and the output lines shown under it."""

    command: str
    expected: list[str]
    first: int  # index in the block's lines of the ``$`` line


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if not m.group(1):
            i = j + 1
            continue
        mark = RUN_MARK.match(lines[i - 1]) if i else None
        found.append(Block(page, i, j, m.group(1), lines[i + 1:j], mark.group(1) if mark else None))
        i = j + 1
    return found


def all_blocks() -> Iterator[Block]:
    for page in PAGES:
        yield from blocks(page)


def steps(block: Block) -> list[Step]:
    out: list[Step] = []
    for n, line in enumerate(block.lines):
        if line.startswith("$ "):
            out.append(Step(line[2:], [], n))
        elif out:
            out[-1].expected.append(line)
    return out


def is_session(block: Block) -> bool:
    return block.lang == "console" and any(line.startswith("$ ") for line in block.lines)


def _mask(token: str) -> str:
    return re.sub(r"[0-9a-f]", "x", token) if HEX.fullmatch(token) else re.sub(r"\d", "9", token)


def normalize(line: str, cwd: str | None = None) -> str:
    """A line with the parts that differ between runs masked (same length) and no trailing blanks."""
    line = VENV_BIN.sub(".venv/bin/", line)
    line = FILE_URI.sub("file://.../mlartifacts/", line)
    line = TIME.sub(lambda m: _mask(m.group(0)), line)
    line = HEX.sub(lambda m: _mask(m.group(0)), line)
    return line.rstrip()


def tokens(line: str) -> list[str]:
    """The masked tokens of a line, in order (times before hex: a time holds no hex token)."""
    line = VENV_BIN.sub(".venv/bin/", line)
    found = [(m.start(), m.group(0)) for m in TIME.finditer(line)]
    rest = TIME.sub(lambda m: " " * len(m.group(0)), line)
    found += [(m.start(), m.group(0)) for m in HEX.finditer(rest)]
    return [t for _, t in sorted(found)]


@dataclass
class Substitutions:
    """Shown token → real token, learned from outputs that matched; applied to later commands."""

    real: dict[str, str] = field(default_factory=dict)

    def learn(self, shown: list[str], actual: list[str]) -> str | None:
        """Records the pairs of matching lines; returns a message when one shown token stood for
        two different real ones."""
        for s_line, a_line in zip(shown, actual):
            for s, a in zip(tokens(s_line), tokens(a_line)):
                if s == a:
                    continue
                known = self.real.get(s)
                if known is not None and known != a:
                    if TIME.fullmatch(s):  # two events in one second here may fall in two seconds there
                        continue
                    return f"{s!r} stands for {known!r} and for {a!r}"
                self.real[s] = a
        return None

    def apply(self, command: str) -> str:
        def one(m: re.Match[str]) -> str:
            token = m.group(0)
            if token in self.real:
                return self.real[token]
            # a longer or shorter form of a token seen (run id prefix ↔ full run id)
            for shown, real in self.real.items():
                if HEX.fullmatch(token) and HEX.fullmatch(shown) and len(real) == len(shown):
                    if shown.startswith(token) or token.startswith(shown):
                        return real[:len(token)] if shown.startswith(token) else real + token[len(shown):]
            return token

        command = TIME.sub(lambda m: self._time(m.group(0)), command)
        return HEX.sub(one, command)

    def _time(self, token: str) -> str:
        # a shown time written with a T (an ISO argument) stands for the same real time as the
        # one shown with a blank
        for form in (token, token.replace("T", " ", 1)):
            if form in self.real:
                real = self.real[form]
                return real.replace(" ", "T", 1) if "T" in token else real
        for shown, real in self.real.items():
            if shown.startswith(token) or shown.replace(" ", "T", 1).startswith(token):
                cut = real[:len(token)]
                return cut.replace(" ", "T", 1) if "T" in token else cut
        return token
