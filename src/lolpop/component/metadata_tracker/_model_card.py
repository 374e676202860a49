"""The description of a registered model version: a short model card in Markdown.

What it says: the lolpop model version and its workflow run, the dataset versions it was built
from (id and hexsha), the winning experiment and its metrics, the version's status history and a
link to its lineage page — every link in MLflow's Model-training view (:mod:`lolpop.layout.ui_links`).

**When.** After every status write that has a registry version (its first status registers it,
:mod:`._registry`), so the card always shows the status history up to the newest status: one
``update_model_version`` per such status change (MLflow's client reads the registered model
before it, to check it is not a prompt: one ``registered-models/get``), nothing at registration
itself. Everything it
reads is what the tracker holds for runs it owns (no request when the same tracker trained the
model version); for runs of another process, one ``runs/get`` per run (the model version's, the
winner's, at most :data:`MAX_DATASETS` dataset versions'). A card that cannot be written is a
warning: the status and its alias are what must agree, the card is their description.

**Stored text is inert.** Ids, hexshas, metric names, statuses and user names are read from the
store: each is shown on one line with control characters escaped, as literal Markdown text or an
inline code span, so none becomes a heading, a link, an image or HTML in MLflow's UI.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timezone
from typing import Any

from lolpop.component.metadata_tracker._run_note import code, md
from lolpop.layout import events, keys, ui_links
from lolpop.layout.keys import MAX_TAG_VAL_LENGTH
from lolpop.lineage.safe_text import printable

#: Dataset versions named on a card (a model version built from more says how many more).
MAX_DATASETS = 5
#: Metrics shown (test/valid first).
MAX_METRICS = 12
#: Status events shown (the newest).
MAX_EVENTS = 10
#: MLflow's limit on a model version's description is far above this; a card stays short.
MAX_CARD = min(MAX_TAG_VAL_LENGTH, 5000)


def _text(value: Any) -> str:
    """Stored text as literal Markdown on one line."""
    return md(printable(value))


def _code(value: Any) -> str:
    return code(printable(value))


def _metric_order(name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(("test_", "valid_", "train_")):
        if name.startswith(prefix):
            return rank, name
    return 3, name


def render(*, model_version_id: str, experiment_id: str, run_id: str, winner_name: str | None,
           winner_run_id: str | None, metrics: Mapping[str, float], datasets: list[tuple[str, str | None]],
           more_datasets: int, history: list[events.StatusEvent], lineage_page: str | None) -> str:
    """The card's Markdown (at most :data:`MAX_CARD` characters)."""
    lines = [f"### Model card · {_code(model_version_id)}", "",
             f"lolpop model version {_code(model_version_id)}, recorded in workflow run "
             f"[{_code(run_id[:8])}]({ui_links.run_route(experiment_id, run_id)})."]
    if lineage_page:
        lines.append(f"Lineage page: [{_code(lineage_page)}]({ui_links.run_route(experiment_id, run_id, lineage_page)}).")
    lines += ["", "**Data**", ""]
    if datasets:
        for dataset_id, hexsha in datasets:
            sha = f" · hexsha {_code(hexsha)}" if hexsha else " · no version-control info"
            lines.append(f"- {_code(dataset_id)}{sha}")
        if more_datasets:
            lines.append(f"- … and {more_datasets} more (`lolpop lineage` lists them)")
    else:
        lines.append("- no dataset versions recorded (`build_model_lineage`)")
    lines += ["", "**Winning experiment**", ""]
    if winner_run_id:
        lines.append(f"[{_text(winner_name or winner_run_id[:8])}]({ui_links.run_route(experiment_id, winner_run_id)})")
        shown = sorted(metrics, key=_metric_order)[:MAX_METRICS]
        if shown:
            lines += ["", "| metric | value |", "|---|---|"]
            lines += [f"| {_text(name)} | {_number(metrics[name])} |" for name in shown]
    else:
        lines.append("- none recorded")
    lines += ["", "**Status history** (newest last)", ""]
    for event in history[-MAX_EVENTS:]:
        when = event.time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        old = f"{_text(event.old_status)} → " if event.old_status is not None else ""
        who = f" by {_text(event.user)}" if event.user else ""
        lines.append(f"- {when}: {old}**{_text(event.new_status)}**{who}")
    if len(history) > MAX_EVENTS:
        lines.append(f"- (and {len(history) - MAX_EVENTS} earlier; `lolpop history` lists them all)")
    lines += ["", "*Written by lolpop at each status change.*"]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_CARD:
        text = text[: MAX_CARD - 80].rsplit("\n", 1)[0] + "\n\n*… cut: `lolpop show` has everything.*\n"
    return text


def _number(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return _text(value)


def build(model_version_id: str, run_id: str, experiment_id: str, tags: Mapping[str, str],
          decode: Callable[[str, Mapping[str, str], str], Any], run_of: Callable[[str], Any]) -> str:
    """The card of model version ``model_version_id`` held by run ``run_id`` with ``tags``.

    Args:
        decode: ``(run_id, tags, key)`` → the decoded value of tag ``key``.
        run_of: run id → the ``Run`` (a snapshot for runs the tracker owns, else one ``runs/get``).
    """
    def value(key: str) -> Any:
        return decode(run_id, tags, keys.key(model_version_id, key))

    datasets: list[tuple[str, str | None]] = []
    recorded = value(keys.LINEAGE_KEY)
    recorded = recorded if isinstance(recorded, list) else []
    for entry in recorded[:MAX_DATASETS]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        hexsha = None
        if isinstance(entry.get("run_id"), str):
            try:
                drun = run_of(entry["run_id"])
                sha = decode(entry["run_id"], drun.data.tags, keys.key(entry["id"], "hexsha"))
                hexsha = str(sha) if sha is not None else None
            except Exception:  # noqa: BLE001 - a deleted dataset run leaves the hexsha unknown
                hexsha = None
        datasets.append((entry["id"], hexsha))
    winner = value(keys.WINNER_KEY)
    winner_run = winner_name = None
    metrics: dict[str, float] = {}
    if isinstance(winner, str) and keys.is_experiment_id(winner):
        winner_run = keys.split_experiment_id(winner)[0]
        try:
            wrun = run_of(winner_run)
            winner_name = wrun.info.run_name
            metrics = dict(wrun.data.metrics)
        except Exception:  # noqa: BLE001 - the card still says which experiment won
            pass
    lineage = None
    if tags.get(keys.key(model_version_id, keys.LINEAGE_FLAG)) == "True":
        from lolpop.layout.native import page_path

        lineage = page_path(model_version_id)
    return render(model_version_id=model_version_id, experiment_id=experiment_id, run_id=run_id,
                  winner_name=winner_name, winner_run_id=winner_run, metrics=metrics, datasets=datasets,
                  more_datasets=max(0, len(recorded) - MAX_DATASETS),
                  history=events.events_in(tags, run_id, model_version_id), lineage_page=lineage)
