"""Layouts that read well at any terminal width (80 columns included).

Two pieces, both plain rich renderables:

* :class:`Wrapped`: a table cell of long text that breaks where a reader expects a break (at a
  space, after ``_ . / - , : = @``, between ``camelCase`` words) and never leaves one or two
  letters alone on a line, as rich's own ``overflow="fold"`` does (``breast_cancer_mode`` / ``l``).
* :class:`Listing`: rows of short, fixed-width fields (ids, times, statuses) that are never wrapped
  or cut, with anything that does not fit the terminal on indented lines below its row. A rich
  ``Table`` cannot do this: a cell cannot span columns, so long text in a column of its own gets
  whatever width is left (three characters for ``impact``'s ``via``, one letter a line for
  ``history``'s metadata at 100 columns).

Both take text that is already printable (:func:`lolpop.lineage.safe_text.printable`): they build
rich ``Text`` objects, which are never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.measure import Measurement
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

#: A word is broken after one of these before anywhere else...
_BREAK_AFTER = frozenset("_./-,:;=@&?|+")
#: ...and after one of these first, when that still fills two thirds of the line (a path breaks
#: at a folder, ``key=value`` at its ``=``).
_STRONG = frozenset("/=,;")
#: The shortest piece a broken word leaves on a line (unless the word itself is shorter).
MIN_PIECE = 3


def _fits(word: str, width: int) -> int:
    """How many leading characters of ``word`` fit in ``width`` cells (at least 1)."""
    used = 0
    for i, char in enumerate(word):
        used += cell_len(char)
        if used > width:
            return max(i, 1)
    return len(word)


def _break_points(word: str) -> list[int]:
    """Indexes ``i`` where ``word`` may be broken into ``word[:i]`` / ``word[i:]``."""
    points = []
    for i in range(1, len(word)):
        before, after = word[i - 1], word[i]
        if before in _BREAK_AFTER and after not in _BREAK_AFTER:
            points.append(i)
        elif before.islower() and after.isupper():  # GradientBoosting|Classifier
            points.append(i)
    return points


def split_word(word: str, width: int) -> list[str]:
    """``word`` in pieces of at most ``width`` cells, broken at the last natural point that
    leaves at least a third of the line filled, else at the width, never leaving fewer than
    :data:`MIN_PIECE` cells for the next line."""
    width = max(width, 1)
    pieces: list[str] = []
    while cell_len(word) > width:
        room = _fits(word, width)
        natural = [p for p in _break_points(word)
                   if max(MIN_PIECE, room // 3) <= p <= room and cell_len(word[p:]) >= MIN_PIECE]
        strong = [p for p in natural if word[p - 1] in _STRONG and p >= room * 2 // 3]
        if natural:
            cut = (strong or natural)[-1]
        else:
            cut = room
            while cut > 1 and cell_len(word[cut:]) < MIN_PIECE:  # move letters down, not strand one
                cut -= 1
        pieces.append(word[:cut])
        word = word[cut:]
    pieces.append(word)
    return pieces


def wrap_items(items: Iterable[str], width: int, sep: str = "  ") -> list[str]:
    """Lines of at most ``width`` cells holding ``items`` in order, ``sep`` between two on a line.

    An item goes whole onto a line when it fits there, else onto the next line; an item longer
    than a whole line is broken at its spaces, then by :func:`split_word`.
    """
    width = max(width, 1)
    lines: list[str] = []
    line = ""
    for item in items:
        if not item:
            continue
        joined = f"{line}{sep}{item}" if line else item
        if cell_len(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
            line = ""
        if cell_len(item) <= width:
            line = item
            continue
        for word in item.split(" "):  # a long item: word by word, long words broken
            for piece in split_word(word, width) if word else [""]:
                joined = f"{line} {piece}" if line else piece
                if line and cell_len(joined) > width:
                    lines.append(line)
                    line = piece
                else:
                    line = joined
    if line:
        lines.append(line)
    return lines


def wrap(text: str, width: int) -> list[str]:
    """``text`` (one line) wrapped to ``width`` cells: at spaces, long words broken naturally."""
    return wrap_items(text.split(" "), width, sep=" ") or [""]


class Wrapped:
    """A table cell holding ``text`` (already printable), wrapped by :func:`wrap`.

    Its measurement lets rich narrow the column down to ``min_width`` cells (or the text's own
    width when shorter), so a long value gives way before an id or a status next to it is cut.
    """

    def __init__(self, text: str, style: str = "", min_width: int = 10, indent: int = 0) -> None:
        self.text = text
        self.style = style
        self.min_width = min_width
        self.indent = indent

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        whole = self.indent + cell_len(self.text)
        return Measurement(min(whole, self.indent + self.min_width), whole).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        pad = " " * self.indent
        lines = wrap(self.text, max(options.max_width - self.indent, 1))
        yield Text("\n".join(pad + line for line in lines), style=self.style, no_wrap=True, overflow="ignore",
                   end="")

    def __str__(self) -> str:
        return self.text


@dataclass
class Column:
    """One field of a :class:`Listing` row.

    Attributes:
        header: the column's title.
        move: ``0``: always on the row line. Otherwise the field moves below the row (as
            ``label value``) when the row would not fit the terminal, highest ``move`` first.
        label: the name shown before the value below the row (default: ``header``; ``""``: none).
        usual: a value not worth a line of its own: below the row it is left out.
        justify: ``"left"`` or ``"right"`` on the row line.
    """

    header: str
    move: int = 0
    label: str | None = None
    usual: str | None = None
    justify: str = "left"


@dataclass
class Listing:
    """A title, a header, and one line per row with fields aligned in columns; fields that do
    not fit and the row's ``details`` go on indented lines below it, wrapped to the terminal.

    Columns with a ``move`` rank go below the row, highest rank first, until the row fits the
    width; the same for every row, so the columns stay aligned. The other fields are never cut;
    if they alone are wider than the terminal, the row line wraps at a space between them.
    """

    title: Text
    columns: Sequence[Column]
    rows: list[tuple[list[Text], list[str]]] = field(default_factory=list)
    gap: int = 2
    indent: int = 4
    detail_style: str = "dim"

    def add_row(self, cells: Sequence[Text], details: Sequence[str] = ()) -> None:
        """One row: a ``Text`` per column (printable already), and ``details`` (printable
        ``key=value`` strings) shown below it."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append((list(cells), list(details)))

    def widths(self) -> list[int]:
        return [max([cell_len(c.header)] + [row[i].cell_len for row, _ in self.rows])
                for i, c in enumerate(self.columns)]

    def shown(self, width: int) -> list[int]:
        """The columns on the row line at ``width`` cells."""
        widths = self.widths()
        shown = list(range(len(self.columns)))
        movable = sorted((i for i in shown if self.columns[i].move), key=lambda i: -self.columns[i].move)

        def line(cols: list[int]) -> int:
            return sum(widths[i] for i in cols) + self.gap * (len(cols) - 1)

        while line(shown) > width and movable:
            shown.remove(movable.pop(0))
        return shown

    def _line(self, cells: Sequence[Text], shown: list[int], widths: list[int], style: str = "") -> Text:
        line = Text(style=style, overflow="fold")
        for n, i in enumerate(shown):
            cell = cells[i].copy()
            last = n == len(shown) - 1
            pad = widths[i] - cell.cell_len
            if self.columns[i].justify == "right":
                cell = Text(" " * pad) + cell
            elif not last:
                cell.append(" " * pad)
            if n:
                line.append(" " * self.gap)
            line.append_text(cell)
        line.rstrip()
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        widths = self.widths()
        shown = self.shown(width)
        moved = [i for i in range(len(self.columns)) if i not in shown]
        yield self.title
        header = self._line([Text(c.header) for c in self.columns], shown, widths, style="bold")
        yield header
        yield Text("━" * min(width, max(header.cell_len, 1)), style="dim")
        for cells, details in self.rows:
            yield self._line(cells, shown, widths)
            below = []
            for i in moved:
                value = cells[i].plain
                column = self.columns[i]
                if not value or value == column.usual:
                    continue
                label = column.header if column.label is None else column.label
                below.append(f"{label} {value}" if label else value)
            below += details
            for line in wrap_items(below, width - self.indent):  # each its own Text: no trailing pad
                yield Text(" " * self.indent + line, style=self.detail_style, no_wrap=True, overflow="ignore")
