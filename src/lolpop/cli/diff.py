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
    """Print a :class:`~lolpop.audit.diff.VersionDiff` as one table: section, field, A, B, changed."""
    from rich.table import Table
    from rich.text import Text

    from lolpop.cli.safe import text

    a, b = result.a, result.b  # type: ignore[attr-defined]
    title = Text("Diff of ")
    title.append_text(text(b["id"], "bold")).append(": A = run ").append_text(text(a["run_id"][:8]))
    title.append(f" ({_brief(a['start_time'])} UTC), B = run ").append_text(text(b["run_id"][:8]))
    title.append(f" ({_brief(b['start_time'])} UTC); {len(result.changed())} field(s) changed")  # type: ignore[attr-defined]
    table = Table(title=title, title_justify="left")
    table.add_column("section", style="dim", overflow="fold", max_width=24)
    table.add_column("field", no_wrap=True)
    table.add_column("A", overflow="fold", ratio=1)
    table.add_column("B", overflow="fold", ratio=1)
    table.add_column("", no_wrap=True)
    last = None
    for row in result.rows:  # type: ignore[attr-defined]
        if only_changed and not row.changed:
            continue
        section = text(row.section if row.section != last else "")
        last = row.section
        style = "yellow" if row.changed else ""
        table.add_row(section, text(row.field, style), text(_brief(row.a), limit=120), text(_brief(row.b), limit=120),
                      Text("≠", style="bold yellow") if row.changed else Text(""))
    console().print(table)
