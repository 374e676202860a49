"""``lolpop report MODEL_ID [--run RUN_ID] -o report.html``: the audit report of a model version."""

from __future__ import annotations

from pathlib import Path

import click

from lolpop.cli.common import Settings, console, text


@click.command()
@click.argument("model_id")
@click.option("--run", "run_id", metavar="RUN_ID", default=None,
              help="The run holding the model version. Default: the newest version.")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="html (one self-contained page) or md (Markdown).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of the terminal.")
@click.pass_obj
def report(settings: Settings, model_id: str, run_id: str | None, fmt: str, output: str | None) -> None:
    """Write the audit report of a version of MODEL_ID: its lineage, the data it was trained on,
    the candidates and the winner, its metrics, the diff against the previous version, its status
    history, and quarantine / taint.

    \b
    Examples:
      lolpop report breast_cancer_model -o report.html
      lolpop report breast_cancer_model --run 3f2c8a9d... --format md -o report.md
    """
    from lolpop.audit.report import build_report

    reader = settings.reader()
    try:
        built = build_report(reader, model_id, run_id)
    finally:
        reader.close()
    result = built.render(fmt)
    if output is None:
        # Stored text in it is escaped already (HTML / Markdown escaping of printable text).
        click.echo(result, nl=False)
        return
    Path(output).write_text(result, encoding="utf-8")
    console(stderr=True).print(text(f"wrote the {fmt} audit report of {built.model_id} (run {built.run_id}) to {output}"),
                               highlight=False, soft_wrap=True)
