"""The ``lolpop`` console script (click + rich).

Every command takes the group options ``--tracking-uri`` (default: ``$MLFLOW_TRACKING_URI``, then
the embedded ``sqlite:///mlflow.db``) and ``--experiment`` (default: every experiment for reading,
``lolpop-quickstart`` for the quickstart), and ``--timeout`` (seconds per store request). Reading
commands never write to the store, and import MLflow only when the store needs it (a tracking
server and an MLflow SQLite file are read directly), so they start fast. ``lolpop quarantine`` is
the one command that writes: one tag on the dataset version's run, nothing created.
"""

from __future__ import annotations

import click

from lolpop import __version__
from lolpop.cli.common import DEFAULT_TIMEOUT, LolpopGroup, Settings, quiet_libraries, resolve_tracking_uri
from lolpop.store import telemetry


@click.group(cls=LolpopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tracking-uri", metavar="URI", default=None,
              help="MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.")
@click.option("--experiment", metavar="NAME", default=None, envvar="LOLPOP_EXPERIMENT",
              help="MLflow experiment name. Default: all experiments (quickstart: lolpop-quickstart).")
@click.option("--timeout", metavar="SECONDS", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_TIMEOUT, envvar="LOLPOP_TIMEOUT", show_default=True,
              help="Give up on a request to the store after this long (retries included). "
                   "Env: LOLPOP_TIMEOUT.")
@click.version_option(__version__, prog_name="lolpop")
@click.pass_context
def cli(ctx: click.Context, tracking_uri: str | None, experiment: str | None, timeout: float) -> None:
    """lolpop: look at what your ML workflows recorded in MLflow — lineage, history, details.

    \b
    Start with:   lolpop quickstart
    Then:         lolpop lineage breast_cancer_model
                  lolpop history breast_cancer_model
                  lolpop show breast_cancer_model
                  lolpop report breast_cancer_model -o report.html
    """
    quiet_libraries()
    # The lolpop command talks to the store it is given and nothing else: MLflow's usage
    # telemetry (an internet request) stays off in this process unless the user decided otherwise.
    telemetry.keep_off()
    ctx.obj = Settings(tracking_uri=resolve_tracking_uri(tracking_uri), experiment=experiment, timeout=timeout)


def _register() -> None:
    from lolpop.cli.diff import diff
    from lolpop.cli.history import history
    from lolpop.cli.impact import impact
    from lolpop.cli.lineage import lineage
    from lolpop.cli.quarantine import quarantine
    from lolpop.cli.quickstart import quickstart
    from lolpop.cli.report import report
    from lolpop.cli.show import show

    for command in (quickstart, lineage, history, show, diff, impact, report, quarantine):
        cli.add_command(command)


_register()

if __name__ == "__main__":
    cli(prog_name="lolpop")
