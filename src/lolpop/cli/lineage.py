"""``lolpop lineage``: the lineage graph of one resource version."""

from __future__ import annotations

from pathlib import Path

import click

from lolpop.cli.common import Settings, console, text
from lolpop.layout import ui_links
from lolpop.lineage.render import FORMATS


@click.command()
@click.argument("resource_id")
@click.option("--run", "run_id", metavar="RUN_ID", default=None,
              help="The run holding the version to start from. Default: the newest version.")
@click.option("--format", "fmt", type=click.Choice((*FORMATS, "openlineage")), default="tree", show_default=True,
              help="tree (terminal), json, mermaid, dot (Graphviz), html (self-contained page) or "
                   "openlineage (OpenLineage 2-0-2 run events, one JSON event per line).")
@click.option("--direction", type=click.Choice(["both", "upstream", "downstream"]), default="both",
              show_default=True, help="Follow what it was made from, what was made from it, or both.")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="Maximum hops (default: no limit).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of the terminal.")
@click.pass_obj
def lineage(settings: Settings, resource_id: str, run_id: str | None, fmt: str, direction: str,
            depth: int | None, output: str | None) -> None:
    """Show the lineage of RESOURCE_ID: exact dataset versions, experiments, model versions and
    prediction jobs, upstream and downstream. Quarantined dataset versions and what was built from
    them (tainted) are marked with ⚠ and their source.

    \b
    Examples:
      lolpop lineage breast_cancer_model
      lolpop lineage breast_cancer --format mermaid
      lolpop lineage breast_cancer_model --format html -o lineage.html
    """
    from lolpop.lineage.graph import build_lineage
    from lolpop.lineage.render import render

    reader = settings.reader()
    try:
        start = reader.locate(resource_id, run_id)
        graph = build_lineage(reader, start, direction, depth)
        from lolpop.lineage.taint import annotate

        annotate(graph, reader)  # quarantined / tainted nodes, in every format
        if fmt == "openlineage":
            from lolpop.audit.openlineage import graph_ndjson

            result = graph_ndjson(graph, reader)
    finally:
        reader.close()
    if fmt != "openlineage":
        result = render(graph, fmt, ui_base=ui_links.ui_base(settings.tracking_uri))
    if output is None:
        if fmt == "tree":
            console().print(result)
        else:  # stored text in them is printable already (render.py; JSON escapes it itself)
            click.echo(result, nl=False)
        return
    path = Path(output)
    if fmt == "tree":
        from rich.console import Console

        with path.open("w", encoding="utf-8") as fh:
            Console(file=fh, width=160, color_system=None).print(result)
    else:
        path.write_text(result, encoding="utf-8")
    console(stderr=True).print(text(f"wrote {fmt} lineage of {resource_id} (run {start.run_id}, "
                                    f"{len(graph.nodes)} nodes) to {path}"), highlight=False, soft_wrap=True)
