"""``lolpop quickstart``: run a whole lolpop workflow and show what it recorded."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from lolpop.cli.common import Settings, console


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
    from lolpop.quickstart import DEFAULT_EXPERIMENT, TOTAL_STEPS, run_quickstart

    out = console()
    experiment = settings.experiment or DEFAULT_EXPERIMENT
    out.print(f"[bold]lolpop quickstart[/] → store [cyan]{settings.tracking_uri}[/], "
              f"experiment [cyan]{experiment}[/], work dir [cyan]{workdir}[/]", highlight=False)
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

    table = Table(title="What the quickstart recorded", title_justify="left")
    for col in ("cycle", "rows", "data hexsha", "winner", "accuracy", "status",
                "model run", "predict run", "preds"):
        table.add_column(col, no_wrap=True)
    for c in summary.cycles:
        table.add_row(str(c.cycle), str(c.rows), c.hexsha[:10], c.winner.replace("Classifier", ""),
                      f"{c.accuracy:.4f}", c.status, c.model_version_run_id[:8], c.prediction_run_id[:8],
                      str(c.predictions))
    out.print(table)
    out.print(f"Lineage page (MLflow UI → run {summary.cycles[-1].model_version_run_id} → Artifacts): "
              f"[cyan]{summary.lineage_artifact}[/]", highlight=False)
    out.print("\n[bold]Look at it in the MLflow UI:[/]", highlight=False)
    out.print(f"  {summary.ui_command}", highlight=False, soft_wrap=True)
    out.print("[bold]Or here:[/]", highlight=False)
    for command in summary.next_commands():
        out.print(f"  {command}", highlight=False, soft_wrap=True)
