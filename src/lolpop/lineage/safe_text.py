"""Stored text made safe to show: the one sanitizer every printed store value goes through.

A tracking store is shared data (DESIGN.md, "Trust boundary"): a tag value, run name, experiment
name or artifact path may hold terminal escape sequences (``ESC ] 8`` hyperlinks, ``ESC [ 2J``),
carriage returns that overwrite a line, or bidirectional overrides (U+202E) that reorder what the
reader sees. :func:`printable` replaces each such character by its visible escape (``\\x1b``,
``\\u202e``), so the text is shown, never obeyed. :func:`text` wraps the result in a rich ``Text``,
which rich never parses as markup (``[/]``, ``[link=...]`` stay literal).
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (newline and tab included: a value is one line), DEL, C1 controls, and the invisible
# format characters that reorder or hide text: bidi marks, embeddings, overrides and isolates,
# zero-width characters, line/paragraph separators, the BOM and interlinear annotations.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb]"
)


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def printable(value: Any) -> str:
    """``value`` as text with every control or invisible formatting character escaped."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)


def text(value: Any, style: str = "") -> Any:
    """A rich ``Text`` of :func:`printable` ``(value)``: shown literally, never read as markup."""
    from rich.text import Text

    return Text(printable(value), style=style)
