"""``lolpop quarantine DATASET_ID --run RUN_ID --reason TEXT [--lift]``: quarantine one exact
dataset version, or lift its quarantine.

The one CLI command that writes: one set-tag request adding the event tag to the dataset
version's own run (:mod:`lolpop.layout.quarantine`). It creates nothing (no workflow run, no
experiment): the store is checked first through the read-only reader, then written through the
tracker's bounded client (:func:`lolpop.store.writes.set_run_tag`, ``create=False``). Then it prints what the dataset version touches: every model version and
prediction job built from it, and which are deployed now (their status is not changed), and
draws again the lineage page of each touched model version that has one
(:mod:`lolpop.lineage.page`; per such model version one list-artifacts request and one upload).
"""

from __future__ import annotations

import os

import click

from lolpop.cli.common import Settings, console, text

FORMATS = ("table", "json")


@click.command()
@click.argument("dataset_id")
@click.option("--run", "run_id", metavar="RUN_ID", required=True,
              help="The run holding the dataset version: one exact version is quarantined.")
@click.option("--reason", metavar="TEXT", default=None, help="Why (required to quarantine; optional with --lift).")
@click.option("--lift", is_flag=True, help="End the quarantine (recorded as an event too).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="A summary and table, or JSON.")
@click.pass_obj
def quarantine(settings: Settings, dataset_id: str, run_id: str, reason: str | None, lift: bool, fmt: str) -> None:
    """Quarantine the version of DATASET_ID in run RUN_ID (who, when, why), or --lift it.

    Model versions built from it through any number of lineage hops, and their prediction jobs,
    are tainted: setting PROMOTED or DEPLOYED on them is refused until the quarantine is lifted.
    What is deployed now is listed, not changed.

    \b
    Examples:
      lolpop quarantine breast_cancer --run 4d5976b9... --reason "labels shifted"
      lolpop quarantine breast_cancer --run 4d5976b9... --lift --reason "relabelled"
    """
    from lolpop.audit.impact import impact_of
    from lolpop.audit.quarantine import QuarantineResult
    from lolpop.exceptions import InvalidInputError
    from lolpop.layout import quarantine as layout
    from lolpop.layout.keys import is_experiment_id

    action = layout.LIFT if lift else layout.QUARANTINE
    reason = layout.check_reason(reason, required=not lift)
    if is_experiment_id(dataset_id):
        raise InvalidInputError(f"{dataset_id!r} is an experiment; quarantine applies to dataset versions")
    reader = settings.reader()
    try:
        reader.locate(dataset_id, run_id)  # the run records it, or a clear error before any write
    finally:
        reader.close()
    event = _write(settings, dataset_id, run_id, action, reason)
    reader = settings.reader()  # a fresh one: the run now holds the event
    try:
        impact = impact_of(reader, reader.locate(dataset_id, run_id))
        redrawn, failures = _redraw(settings, reader, impact)
        result = QuarantineResult(event, impact, redrawn, failures)
    finally:
        reader.close()
    _openlineage(result)
    if fmt == "json":
        click.echo(result.to_json())
        for failure in result.redraw_failures[:1]:
            click.echo(f"warning: {failure}", err=True)
        return
    _print(result)


def _write(settings: Settings, dataset_id: str, run_id: str, action: str, reason: str | None) -> object:
    """Add the event tag (one request) and return the event as written."""
    from lolpop.layout import quarantine as layout
    from lolpop.store.who import who
    from lolpop.store.writes import set_run_tag

    key, value = layout.new_event_tag(dataset_id, run_id, action, reason, user=who(settings.tracking_uri),
                                      writer_run_id=None)
    set_run_tag(settings.tracking_uri, run_id, key, value, timeout=settings.timeout,
                what=f"recording the {action} of {dataset_id!r}")
    return layout.events_in({key: value}, run_id)[0]


def _redraw(settings: Settings, reader: object, impact: object) -> tuple[list[tuple[str, str]], list[str]]:
    """Draw again the lineage page of every touched model version that has one (in its own run),
    read through ``reader`` (after the event); a failure is a warning, never the command's."""
    from lolpop.lineage.page import redraw_pages
    from lolpop.store.writes import run_artifacts

    touched = [(m.id, m.run_id) for m in impact.model_versions]  # type: ignore[attr-defined]
    if not touched:
        return [], []
    try:
        repo_of = run_artifacts(settings.tracking_uri, timeout=settings.timeout)
    except Exception as exc:  # noqa: BLE001 - the event is written already
        return [], [f"could not redraw the lineage pages: {type(exc).__name__}: {exc}"]
    return redraw_pages(reader, touched, repo_of, settings.tracking_uri)


def _openlineage(result: object) -> None:
    """Announce it to ``$OPENLINEAGE_URL`` when set (bounded: lolpop.audit.openlineage deadlines)."""
    url = os.environ.get("OPENLINEAGE_URL")
    if not url:
        return
    from lolpop.audit.openlineage import Emitter
    from lolpop.audit.quarantine import openlineage_event

    emitter = Emitter(url)
    try:
        emitter.emit(openlineage_event(result, "lolpop.quarantine", None))  # type: ignore[arg-type]
    finally:
        emitter.close()


def _print(result: object) -> None:
    from rich.text import Text

    from lolpop.cli.impact import render_table

    event = result.event  # type: ignore[attr-defined]
    out = console()
    head = Text("Quarantined " if event.quarantined else "Lifted the quarantine of ", style="bold")
    head.append_text(text(event.dataset_version_id, "bold")).append(" (run ").append_text(text(event.run_id))
    head.append(") by ").append_text(text(event.user or "unknown")).append(f" at {event.time:%Y-%m-%d %H:%M:%S} UTC")
    out.print(head)
    if event.reason is not None:
        out.print(Text("reason: ").append_text(text(event.reason)))
    deployed = result.deployed_now  # type: ignore[attr-defined]
    impact = result.impact  # type: ignore[attr-defined]
    if impact.taint:
        out.print(Text(f"{len(impact.model_versions)} model version(s) and {len(impact.prediction_jobs)} "
                       "prediction job(s) built from it are tainted: PROMOTED / DEPLOYED are refused on them.",
                       style="red"))
    else:
        out.print(Text("Nothing built from it is tainted by it now."))
    if deployed:
        line = Text("⚠ deployed now (status NOT changed; roll back if needed): ", style="bold red")
        for i, m in enumerate(deployed):
            line.append(", " if i else "").append_text(text(m.id, "bold")).append(" (run ").append_text(
                text(m.run_id[:8])).append(")")
        out.print(line)
    if impact.model_versions or impact.prediction_jobs or impact.other:
        render_table(impact, shown=(event.dataset_version_id, event.run_id))
    out.print(Text(f"redrew the lineage page of {len(result.redrawn)} model version(s)"))  # type: ignore[attr-defined]
    failures = result.redraw_failures  # type: ignore[attr-defined]
    if failures:
        out.print(Text(f"warning: {len(failures)} lineage page(s) not redrawn (they show the old state): ",
                       style="yellow").append_text(text(failures[0])))
