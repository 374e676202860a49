"""``lolpop diff <model id> [--run A --run B] [--format json]``: what changed between two versions."""

from __future__ import annotations

import re

import click

from lolpop.cli.common import Settings, console

FORMATS = ("table", "json")
#: Run ids and hexshas (optionally ``<run id>.<parent>``) are cut to 10 hex digits in the table.
_HEX = re.compile(r"^([0-9a-f]{10})[0-9a-f]{22,30}(\..*)?$")


_UTC = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)\+00:00$")


def _brief(value: object) -> object:
    """Short forms for the table: hex ids cut to 10 digits, UTC times without the offset."""
    if isinstance(value, str):
        match = _HEX.match(value)
        if match:
            return match.group(1) + (match.group(2) or "")
        match = _UTC.match(value)
        if match:
            return f"{match.group(1)} {match.group(2)}"
    return value


@click.command()
@click.argument("model_id")
@click.option("--run", "run_ids", metavar="RUN_ID", multiple=True,
              help="A version to compare (give it twice: A then B). One: that version against the one "
                   "before it. None: the newest version against the one before it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="A table (one row per field, changed ones marked), or JSON.")
@click.option("--changed", "only_changed", is_flag=True, help="Show only the fields that changed.")
@click.pass_obj
def diff(settings: Settings, model_id: str, run_ids: tuple[str, ...], fmt: str, only_changed: bool) -> None:
    """What changed between two versions of MODEL_ID: dataset versions (hexsha, rows...), data
    check and profile artifacts, the winning trainer and its params, metrics, vc info, status.

    \b
    Examples:
      lolpop diff breast_cancer_model
      lolpop diff breast_cancer_model --run 4d5976b9... --run 56c9b130...
      lolpop diff breast_cancer_model --format json
    """
    from lolpop.audit.diff import diff_versions, version_pair

    reader = settings.reader()
    try:
        a, b = version_pair(reader, model_id, run_ids)
        result = diff_versions(reader, a, b)
    finally:
        reader.close()
    if fmt == "json":
        click.echo(result.to_json())
        return
    render_table(result, only_changed)


def render_table(result: object, only_changed: bool = False) -> None:
    """Print a :class:`~lolpop.audit.diff.VersionDiff` as one table: field, A, B, changed; each
    section is a heading row above its fields."""
    from rich.table import Table
    from rich.text import Text

    from lolpop.cli.layout import Wrapped
    from lolpop.cli.safe import printable, text

    a, b = result.a, result.b  # type: ignore[attr-defined]
    title = Text("Diff of ")
    title.append_text(text(b["id"], "bold"))
    title.append(f": {len(result.changed())} field(s) changed")  # type: ignore[attr-defined]
    # The two versions on lines of their own, with their whole run ids (what --run takes).
    for name, side in (("A", a), ("B", b)):
        title.append(f"\n  {name} = run ").append_text(text(side["run_id"]))
        title.append(f" ({_brief(side['start_time'])} UTC)")
    rows = [row for row in result.rows if not only_changed or row.changed]  # type: ignore[attr-defined]
    out = console()
    # The section is a heading row, not a column of its own: its width goes to the values. The
    # field column is as wide as the longest field (up to 32, and half of the terminal); A and B
    # share the rest, and long values wrap at natural points (Wrapped) instead of a letter a line.
    longest = max([len(printable(r.field)) + 2 for r in rows] + [5])
    field_width = min(longest, 32, max(12, (out.width - 14) // 2))
    table = Table(title=title, title_justify="left")
    table.add_column("field", width=field_width)
    table.add_column("A", min_width=6)
    table.add_column("B", min_width=6)
    table.add_column("", width=1, no_wrap=True)
    last = None
    for row in rows:
        if row.section != last:
            if last is not None:
                table.add_section()
            table.add_row(Wrapped(printable(row.section), "bold", min_width=field_width), "", "", "")
            last = row.section
        style = "yellow" if row.changed else ""
        table.add_row(Wrapped(printable(row.field), style, min_width=field_width, indent=2),
                      Wrapped(printable(_brief(row.a), 120)), Wrapped(printable(_brief(row.b), 120)),
                      Text("≠", style="bold yellow") if row.changed else Text(""))
    out.print(table)
