"""``lolpop quickstart``: run a whole lolpop workflow and show what it recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lolpop.cli.common import Settings, console, redact, text

if TYPE_CHECKING:
    from rich.console import Console


@click.command()
@click.option("--dir", "workdir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Work folder for the data git repo, reports and saved models.")
@click.pass_obj
def quickstart(settings: Settings, workdir: str) -> None:
    """Run a whole lolpop workflow on scikit-learn's breast cancer data.

    Two cycles of process (dataset version in a local git repo, data profile and checks),
    train (three experiments, the best wins), promote + deploy, and predict, recorded in the
    store (default: sqlite:///mlflow.db). Ends with a summary and the `mlflow ui` command.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn)
    from rich.text import Text

    from lolpop.quickstart import DEFAULT_EXPERIMENT, TOTAL_STEPS, run_quickstart

    out = console()
    experiment = settings.experiment or DEFAULT_EXPERIMENT
    out.print(Text.assemble(("lolpop quickstart", "bold"), " → store ", text(redact(settings.tracking_uri), "cyan"),
                            ", experiment ", text(experiment, "cyan"), ", work dir ", text(workdir, "cyan")),
              highlight=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=out) as bar:
        task = bar.add_task("starting", total=TOTAL_STEPS)
        started = [False]

        def step(description: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=description)

        summary = run_quickstart(workdir, tracking_uri=settings.tracking_uri, experiment=experiment,
                                 progress=step)
        bar.update(task, completed=TOTAL_STEPS, description="done")
    print_summary(out, summary)


def print_summary(out: Console, summary: Any) -> None:
    """The table of what the quickstart recorded and the commands to look at it; every value
    is read from the store, so it is printed as text."""
    from rich.text import Text

    from lolpop.cli.layout import Column, Listing

    # A Listing, not a table of no_wrap columns: those were cut to "cyc…" and "LogisticRegressi…"
    # below 107 columns. What does not fit goes below its row.
    table = Listing(Text("What the quickstart recorded"), [
        Column("cycle"), Column("rows", move=3), Column("data hexsha"), Column("winner"),
        Column("accuracy", move=1), Column("status"), Column("model run"), Column("predict run", move=2),
        Column("preds", move=4),
    ])
    for c in summary.cycles:
        table.add_row([text(c.cycle), text(c.rows), text(c.hexsha[:10]), text(c.winner.replace("Classifier", "")),
                       text(f"{c.accuracy:.4f}"), text(c.status), text(c.model_version_run_id[:8]),
                       text(c.prediction_run_id[:8]), text(c.predictions)])
    out.print(table)
    if summary.cycles:
        out.print(Text.assemble(text(f"Lineage page (MLflow UI → run {summary.cycles[-1].model_version_run_id} "
                                     "→ Artifacts): "), text(summary.lineage_artifact, "cyan")), highlight=False)
    out.print(Text("\nLook at it in the MLflow UI:", style="bold"), highlight=False)
    out.print(text(f"  {redact(summary.ui_command)}"), highlight=False, soft_wrap=True)
    # Links carry ?workflowType=machine_learning: MLflow 3.17 opens an experiment on its GenAI
    # overview otherwise (layout/ui_links.py).
    for what, link in summary.ui_links():
        out.print(text(f"  {what}: {redact(link)}"), highlight=False, soft_wrap=True)
    out.print(Text("Or here:", style="bold"), highlight=False)
    for command in summary.next_commands():
        out.print(text(f"  {redact(command)}"), highlight=False, soft_wrap=True)
    out.print(Text.assemble(("Audit questions:", "bold"), " what changed between the two model versions, and "
                            "what a bad dataset version would touch:"), highlight=False)
    for command in summary.audit_commands():
        out.print(text(f"  {redact(command)}"), highlight=False, soft_wrap=True)
