"""``lolpop impact <dataset id> [--run R] [--format json]``: the blast radius of a dataset version."""

from __future__ import annotations

import click

from lolpop.cli.common import Settings, console

FORMATS = ("table", "json")


@click.command()
@click.argument("dataset_id")
@click.option("--run", "run_id", metavar="RUN_ID", default=None,
              help="The run holding the dataset version. Default: its newest version.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="A table, or JSON.")
@click.pass_obj
def impact(settings: Settings, dataset_id: str, run_id: str | None, fmt: str) -> None:
    """What a bad DATASET_ID version would touch: every model version built from it (through every
    hop the lineage records), every prediction job that used them, and which are deployed now
    (the newest version of the model whose status is DEPLOYED). When the dataset version is
    quarantined (or built from one), everything listed is tainted: the output names the source and,
    with --format json, lists what must be rolled back ("rollback"), deployed-now first.

    \b
    Examples:
      lolpop impact breast_cancer
      lolpop impact breast_cancer --run 4d5976b9... --format json
    """
    from lolpop.audit.impact import impact_of

    reader = settings.reader()
    try:
        result = impact_of(reader, reader.locate(dataset_id, run_id))
    finally:
        reader.close()
    if fmt == "json":
        click.echo(result.to_json())
        return
    render_table(result)


def render_table(result: object, shown: tuple[str, str] | None = None) -> None:
    """Print a :class:`~lolpop.audit.impact.Impact`: one row per affected resource version.
    ``shown``: ``(dataset version id, run id)`` of a quarantine the caller printed already (``lolpop
    quarantine``'s own header), whose taint line is not printed again; others' still are."""
    from rich.text import Text

    from lolpop.cli.layout import Column, Listing
    from lolpop.cli.safe import text

    ds = result.dataset  # type: ignore[attr-defined]
    rows = result.model_versions + result.prediction_jobs + result.other  # type: ignore[attr-defined]
    deployed = result.deployed_now  # type: ignore[attr-defined]
    title = Text("Impact of ")
    title.append_text(text(ds["id"], "bold")).append(" (run ").append_text(text(ds["run_id"][:8]))
    if ds.get("hexsha"):
        title.append(", hexsha ").append_text(text(str(ds["hexsha"])[:10]))
    title.append(f"): {len(result.model_versions)} model version(s), "  # type: ignore[attr-defined]
                 f"{len(result.prediction_jobs)} prediction job(s), {len(deployed)} deployed now")  # type: ignore[attr-defined]
    # Hops, the resource, its run, status and "deployed now" stay whole on the row line; the type
    # and the node it was reached from go below the row when the terminal is too narrow for them
    # (in a column of their own, "via" was left three characters a line at 100 columns).
    listing = Listing(title=title, columns=[
        Column("hops", justify="right"), Column("type", move=1, label=""), Column("resource"), Column("run id"),
        Column("status"), Column("deployed"), Column("via", move=2),
    ])
    for item in sorted(rows, key=lambda r: (r.hops, r.type or "", r.id, r.run_id)):
        now = {True: Text("● yes", style="bold red"), False: Text("no"), None: Text("")}[item.deployed_now]
        via_id, _, via_run = item.via.rpartition("@")
        listing.add_row([Text(str(item.hops)), text(item.type), text(item.id, "bold"), text(item.run_id[:10]),
                         text(item.status), now, text(f"{via_id}@{via_run[:8]}")])
    out = console()
    taint = getattr(result, "taint", [])
    for finding in taint:
        if (finding.dataset_version_id, finding.run_id) == shown:
            continue
        line = Text("⚠ TAINTED: ", style="bold red")
        line.append_text(text(finding.dataset_version_id, "bold")).append(" (run ").append_text(
            text(finding.run_id[:8])).append(") quarantined by ").append_text(text(finding.user or "unknown"))
        line.append(f" at {finding.time:%Y-%m-%d %H:%M:%S} UTC: ").append_text(text(finding.reason))
        out.print(line)
    out.print(listing)
    if taint:
        rollback = Text("roll back (deployed now first): ", style="bold")
        for i, item in enumerate(result.rollback):  # type: ignore[attr-defined]
            rollback.append(", " if i else "").append_text(text(item.id)).append(f"@{item.run_id[:8]}")
            if item.deployed_now:
                rollback.append(" (deployed)", style="bold red")
        out.print(rollback)
    out.print(Text(f"deployed now = {result.deployed_rule}", style="dim"))  # type: ignore[attr-defined]
