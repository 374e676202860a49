"""Store values for the audit tables: one line of text each, through the CLI's one sanitizer
(:mod:`lolpop.lineage.safe_text`), so a hostile store cannot inject terminal escape sequences or
rich markup into what ``lolpop`` prints."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from lolpop.lineage.safe_text import printable as _escaped


def printable(value: Any, limit: int | None = None) -> str:
    """``value`` as one escaped string (dicts and lists as JSON), cut at ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str, ensure_ascii=False)
    shown = _escaped(value)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def text(value: Any, style: str = "", limit: int | None = None) -> Text:
    """A rich ``Text`` of :func:`printable` ``value`` (rich markup in it is shown, not applied)."""
    return Text(printable(value, limit), style=style)
