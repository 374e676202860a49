"""``lolpop history <model> --deployments [--at TIME] [--format json]``: the deployment history.

:func:`show_deployments` does the work; ``lolpop history`` calls it when ``--deployments`` is given.
"""

from __future__ import annotations

from typing import Any

import click

from lolpop.cli.common import Settings, console, text

FORMATS = ("table", "json")


def _text(value: Any) -> Any:
    """Stored text as text: the CLI's one sanitizer (no markup parsed, no control characters)."""
    return text("" if value is None else str(value))


def show_deployments(settings: Settings, model_id: str, at: str | None = None, fmt: str = "table") -> None:
    """Print every status change of ``model_id``'s versions, oldest first; with ``at`` (ISO 8601,
    UTC unless it has an offset), only what was DEPLOYED at that moment.

    Raises:
        InvalidInputError: a bad ``at`` or ``fmt``.
    """
    from lolpop.audit import deployed_at, parse_when, status_history, to_json
    from lolpop.audit.deployments import INFERRED_USER
    from lolpop.exceptions import InvalidInputError

    if fmt not in FORMATS:
        raise InvalidInputError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", value=fmt)
    when = parse_when(at) if at is not None else None
    reader = settings.reader()
    try:
        found = status_history(reader, model_id) if when is None else deployed_at(reader, model_id, when)
    finally:
        reader.close()
    if fmt == "json":
        click.echo(to_json(found))
        return
    moment = f"{when:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC" if when is not None else ""
    if not found:
        what = f"nothing was DEPLOYED at {moment}" if when is not None else "no status changes recorded"
        console().print(_text(f"{model_id}: {what}"))
        return
    if when is not None:
        title = f"{model_id} at {moment}: {len(found)} version(s) DEPLOYED, most recently deployed first"
    else:
        title = f"Status history of {model_id}: {len(found)} change(s), oldest first"
    from lolpop.cli.layout import Column, Listing

    # Time, run id and the change stay whole on the row line; at 80 columns the registry version
    # and the user go below it (a table squeezed them to nothing, "user" one letter a line).
    listing = Listing(title=_text(title), columns=[
        Column("time (UTC)"), Column("version run id"), Column("registry", move=2), Column("old → new"),
        Column("user", move=1, label="by"),
    ])
    for e in found:
        change = _text(e.old_status if e.old_status is not None else "—")
        change.append(" → ").append_text(_text(e.new_status))
        for source in getattr(e, "override", ()):
            change.append("  OVERRIDE of quarantined ", style="bold red").append_text(
                _text(f"{source.get('dataset_version_id')}@{str(source.get('run_id'))[:8]}"))
        # An inferred event (a version an older lolpop wrote) has an approximate time ("≈") and
        # nobody recorded as its user; the footnote says which time it is.
        shown_time = ("≈ " if e.inferred else "") + e.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        listing.add_row([_text(shown_time), _text(e.run_id),
                         _text(f"v{e.registry_version}" if e.registry_version is not None else ""), change,
                         _text(INFERRED_USER if e.inferred else e.user)])
    console().print(listing)
    if any(e.inferred for e in found):
        console().print(_text("≈ inferred: written before lolpop recorded status events; the version's status "
                              "tag at its run's end time (who and the exact time were not recorded)"))
