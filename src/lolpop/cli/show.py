"""``lolpop show``: everything recorded about one resource version."""

from __future__ import annotations

import click

from lolpop.cli.common import Settings, console, fmt_time, printable, redact, text
from lolpop.layout import ui_links
from lolpop.layout import values as _values
from lolpop.layout.keys import is_experiment_id


@click.command()
@click.argument("resource_id")
@click.option("--run", "run_id", metavar="RUN_ID", default=None,
              help="The run holding the version to show. Default: the newest version.")
@click.pass_obj
def show(settings: Settings, resource_id: str, run_id: str | None) -> None:
    """Show every tag, metadata value and artifact of RESOURCE_ID (newest version, or --run)."""
    from rich.table import Table
    from rich.text import Text

    from lolpop.cli.layout import Wrapped, wrap_items

    out = console()
    reader = settings.reader()
    try:
        found = reader.locate(resource_id, run_id)
        run = found.run
        tags = run.data.tags
        experiment = reader.experiment(run.info.experiment_id)
        header = Table.grid(padding=(0, 2))
        header.add_column(style="bold")
        header.add_column()
        header.add_row("resource", text(resource_id))
        header.add_row("type", text(reader.get(resource_id, run, "type") or ""))
        header.add_row("run", text(f"{run.info.run_id} ({run.info.run_name})"))
        header.add_row("experiment", text(f"{experiment.name} (id {run.info.experiment_id})"))
        header.add_row("run status", text(run.info.status))

        header.add_row("started / ended", f"{fmt_time(run.info.start_time)} / {fmt_time(run.info.end_time)} UTC")
        parent = reader.get(resource_id, run, "parent_id")
        if parent:
            header.add_row("parent", text(f"{parent} (run {reader.get(resource_id, run, 'parent_run_id')})"))
        out.print(header)
        # The run's page in MLflow's Model-training view (layout/ui_links.py), on one line however
        # narrow the terminal: a link is copied whole, never cut or folded.
        link = ui_links.url(ui_links.run_route(run.info.experiment_id, run.info.run_id),
                            ui_links.ui_base(settings.tracking_uri))
        out.print(Text.assemble(("MLflow UI: ", "bold"), text(redact(link))), soft_wrap=True, highlight=False)

        meta = reader.metadata(resource_id, run)
        # Keys and values wrap at natural points (Wrapped: after "_", ".", "/", at spaces), never
        # a letter or two alone on a line; the value column gives way first.
        table = Table(title=f"Tags and metadata ({len(meta)})", title_justify="left")
        table.add_column("key", style="bold")
        table.add_column("value")
        table.add_column("stored as", style="dim", no_wrap=True)
        for key, value in meta.items():
            full = reader.tag_key(resource_id, run, key)
            encoding = _values.describe(_values.type_of(tags, full))
            stored = tags.get(full, "")
            if isinstance(value, str):
                shown = value
            elif not stored.startswith(_values.POINTER_PREFIX):
                shown = stored  # the tag's own readable text: JSON, ISO dates
            else:
                shown = _values.encode(full, value)[0]  # a long value kept as an artifact
            table.add_row(Wrapped(printable(key), min_width=24), Wrapped(printable(shown)), text(encoding))
        out.print(table)

        if is_experiment_id(resource_id):  # an experiment owns its run: its params and metrics too
            for title, items in (("Params", run.data.params), ("Metrics", run.data.metrics)):
                if items:
                    t = Table(title=title, title_justify="left")
                    t.add_column("key", style="bold")
                    t.add_column("value")
                    for key, value in sorted(items.items()):
                        t.add_row(Wrapped(printable(key), min_width=24), Wrapped(printable(value)))
                    out.print(t)

        files = reader.artifacts(run.info.run_id, resource_id)
        art = Table(title=text(f"Artifacts ({len(files)} files under {resource_id}/)"), title_justify="left")
        art.add_column("path")
        art.add_column("bytes", justify="right", no_wrap=True)
        for path, size in files:
            art.add_row(Wrapped(printable(path)), "" if size is None else str(size))
        out.print(art)
        # The URI goes whole on the next line when it does not fit after the label, and breaks
        # at a "/" only when it is wider than the terminal.
        root = wrap_items(["artifact root:", printable(redact(run.info.artifact_uri))], out.width, sep=" ")
        out.print(Text("\n").join(text(line) for line in root), highlight=False, soft_wrap=True)
    finally:
        reader.close()
