"""``lolpop history``: every recorded version of a resource."""

from __future__ import annotations

import click

from lolpop.cli.common import Settings, console, fmt_time, printable, short, text
from lolpop.exceptions import ResourceNotFoundError
from lolpop.layout.keys import LINEAGE_FLAG, LINEAGE_KEY, RUN_ID

_HIDDEN = {"exists", "type", "parent_id", "parent_run_id", "status", "hexsha", "uri",
           LINEAGE_KEY, LINEAGE_FLAG}


def _brief(value: object) -> object:
    """Run ids and experiment ids (``<run id>.<parent>``) shortened to 8 hex digits."""
    if isinstance(value, str) and RUN_ID.match(value[:32]) and (len(value) == 32 or value[32:33] == "."):
        return value[:8] + value[32:]
    return value


@click.command()
@click.argument("resource_id")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Show at most this many versions, newest first.")
@click.option("--deployments", is_flag=True,
              help="Show every status change of the model's versions (oldest first) instead.")
@click.option("--at", "at", metavar="TIME", default=None,
              help="With --deployments: what was DEPLOYED at TIME (ISO 8601, UTC unless an offset is given).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="With --deployments: a table, or JSON.")
@click.pass_obj
def history(settings: Settings, resource_id: str, limit: int, deployments: bool, at: str | None,
            fmt: str) -> None:
    """List the versions of RESOURCE_ID, newest first: run id, start, status, hexsha and key
    metadata, and ⚠ on a version that is quarantined or built from a quarantined dataset version
    (the source, who, when, why). With --deployments: its status changes (who, when, old -> new,
    registry version; OVERRIDE where a status was set in spite of a quarantine)."""
    if deployments or at is not None:
        from lolpop.cli.deployments import show_deployments

        show_deployments(settings, resource_id, at, fmt)
        return
    from lolpop.cli.layout import Column, Listing

    reader = settings.reader()
    try:
        runs = reader.versions(resource_id, limit=limit)
        if not runs:
            raise ResourceNotFoundError(
                f"no resource {resource_id!r} in {settings.tracking_uri}"
                f" (searched {len(reader.experiment_ids)} experiment(s))"
            )
        rtype = reader.get(resource_id, runs[0], "type")
        # Ids, times and statuses stay whole on the row line; the key metadata (long, free text)
        # goes below its row, where it has the terminal's whole width. In a column of its own it
        # got what was left: one letter a line at 100 columns, nothing at 80.
        listing = Listing(
            title=text(f"History of {resource_id}{f' ({rtype})' if rtype else ''}: "
                       f"{len(runs)} version(s), newest first"),
            columns=[Column("run id"), Column("start (UTC)"),
                     # versions are finished runs (but an experiment's): said only when it is news
                     Column("run", move=2, usual="FINISHED"),
                     Column("status"), Column("hexsha", move=1)],
        )
        from lolpop.lineage.taint import taint_of

        for run in runs:
            meta = reader.metadata(resource_id, run)
            # one search per lineage hop, for runs the reader has not read yet
            taint = taint_of(reader, resource_id, run.info.run_id, run=run)
            status = meta.get("status")
            hexsha = meta.get("hexsha") or meta.get("train_hexsha")
            highlights = [  # each made printable (one line)
                f"{printable(k)}={short(_brief(v), 40)}" for k, v in meta.items()
                if k not in _HIDDEN and v is not None and not k.endswith(("_hexsha", "_uri"))
                and not k.startswith("winning_experiment_feature") and not isinstance(v, (list, dict))
            ][:4]
            if taint:
                first = taint[0]
                what = "QUARANTINED" if first.hops == 0 else "TAINTED by " + printable(
                    f"{first.dataset_version_id}@{first.run_id[:8]}")
                highlights.insert(0, f"⚠ {what} ({printable(first.user)}, {first.time:%Y-%m-%d %H:%M} UTC): "
                                     f"{short(first.reason, 60)}")
            listing.add_row([text(run.info.run_id), text(fmt_time(run.info.start_time)), text(run.info.status),
                             text("" if status is None else status), text(str(hexsha)[:10] if hexsha else "")],
                            highlights)
    finally:
        reader.close()
    console().print(listing)
