"""The version index: "newest version" answers that do not grow with history (README, footnote ¹
of "The tracker, method by method").

MLflow's run search reads every run of an experiment, so a look-up by search grows with history.
The index holds, per resource id, the *newest* run that finished as one of its versions (and the
newest run whose ``status`` became ``DEPLOYED``), so a look-up reads three small records:
the experiment, the index run, and the candidate run. Every answer it gives is checked against
:mod:`lolpop.layout.versions`; anything it cannot vouch for falls back to the search.

Where. One *index run* per MLflow experiment, named by the experiment tag :data:`EXPERIMENT_TAG`.
It is an ordinary FINISHED run (not a workflow run, so never a version) named ``lolpop-index``.
The writer that creates the experiment builds it before its own run starts (MLflow lets one
writer create an experiment, so writers starting together do not race to build it); in an
experiment that has none (an older store), the first ``stop()`` builds it. The index built with
its experiment is *complete* (:func:`complete`): every version of the experiment is in it, so a
missing entry answers "none" without a search.

Out of sight. The index run is a *nested run of a workflow run*: its tag ``mlflow.parentRunId``
names the workflow run that last wrote into it (every write carries the tag, so an index of an
older store, or one whose workflow run was deleted, moves under a live run at the next
``stop()``; the first index of an experiment is nested right after its creator's run starts).
MLflow's UI (3.x) lists nested runs folded under their parent, so the runs list shows workflow
runs and their experiment runs, and the Chart view, which draws the runs in the list, has no
series of the index (its charts are empty and MLflow hides empty charts by default). A home in
another experiment would be invisible too, but a writer with EDIT permission on this experiment
only (MLflow's ``basic-auth``) could not write there, and a complete index it cannot update would
answer "none" wrongly; the nested run lives where every writer of the experiment may write.
What stays visible: unfolding the workflow run shows a child ``lolpop-index``; sorting the runs
list by anything but its start time, or filtering it, lists nested runs flat (MLflow's own rule),
the index run included; its metric keys are offered in the column picker.

What. Per resource id and kind (:data:`NEWEST`, :data:`DEPLOYED`) three MLflow *metrics*
``lolpop.<kind>.<id>.0|1|2``. MLflow keeps, per metric key, the entry with the greatest
``(step, timestamp, value)`` under a row lock: a max-register that concurrent writers cannot move
backwards, unlike a tag (last writer wins). Each entry has ``step`` = ``timestamp`` = the
version's start time, and ``value`` = one 43-bit chunk of its run id, inverted so that between
runs that started in the same millisecond the smallest run id wins, as in MLflow's search order.
Different start times: all three keys hold the same run. Equal ones: the chunks may come from
different runs, the id then names no run of the experiment, and the look-up searches.

History. Each key's metric *history* keeps every entry ever written, so the ``newest`` entries
of an id with steps in a range are its versions that started then (and finished since ``since``),
each still checked against the version rule: a listing of the newest versions (``lolpop history``,
the version before another for ``lolpop diff``) reads a range of steps ending at the newest entry
(:func:`history_pointers`; MLflow's ``metrics(run_uuid, key, step)`` index) instead of searching.

When. A workflow run's ``newest`` entries are written by ``stop()`` *before* the run is set
FINISHED; a ``DEPLOYED`` entry before the status tag is written. So a run can be indexed and not
(yet) a version — the check refuses it — but never a version and unindexed.

Since. Runs that finished before the index existed, or into an index that was replaced (deleted
by a user, or two writers creating one at once), are not in it. The index run's tag
:data:`SINCE_TAG` holds a time written *after* the index became the experiment's; a writer only
writes into an index it read after its version started. So every version missing from the index
started before ``since``, and an indexed answer is used only when it started at or after
``since`` (else: search). Times are the writers' clocks, as MLflow's own start times are.

Trust. Everything read here is checked. A candidate must pass the version rule, and it must have
started exactly when its entry's step says: an honest writer's step *is* the start time, and an
entry that wins MLflow's max with a step beyond the newest real version's start (say, a far-future
step naming an old version: it would never be overtaken) names a run that started at another
time. Such an entry is forged: the look-up searches, and the tracker that saw it retires the index
(a new one replaces it), so tampering costs speed, never correctness, and never for good.

A writer of an earlier lolpop on the same experiment does not index what it finishes: keep every
writer of an experiment on one lolpop version. (In an experiment whose index is complete, that
writer's versions would be missing from "none" answers too.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lolpop.layout import versions
from lolpop.layout.keys import MAX_KEY_LENGTH, MLFLOW_PARENT, RUN_ID, key

#: The status the ``deployed`` entries are about (matched exactly, as the search's clause does).
DEPLOYED_STATUS = "DEPLOYED"

#: Experiment tag naming the index run.
EXPERIMENT_TAG = "lolpop.index_run_id"
#: Run tag marking the index run itself.
INDEX_RUN_TAG = "lolpop.index"
#: Index-run tag: ms since epoch; indexed answers that started earlier are not used.
SINCE_TAG = "lolpop.index.since"
#: Index-run tag, set when the run is created: the index was built with its experiment, so every
#: version is in it and "no entry" means "no such version" (see :func:`complete`).
COMPLETE_TAG = "lolpop.index.complete"
#: How long after its experiment's creation an index may start and still be the complete one.
COMPLETE_WINDOW_MS = 60_000
INDEX_RUN_NAME = "lolpop-index"
INDEX_RUN_NOTE = (
    "lolpop's version index: for each resource, the newest run that finished as one of its "
    "versions (and the newest DEPLOYED one), as metrics whose step is that run's start time. "
    "Look-ups read it instead of searching every run. Deleting this run is safe: look-ups search "
    "until the next finished run builds a new one."
)

NEWEST = "newest"
DEPLOYED = "deployed"
KINDS = (NEWEST, DEPLOYED)

_CHUNK_BITS = 43  # 3 chunks cover a 128-bit run id; 2**43 is well inside a float's exact range
_CHUNKS = 3
_CHUNK_MAX = (1 << _CHUNK_BITS) - 1


def metric_keys(kind: str, resource_id: str) -> list[str] | None:
    """The index's metric keys of ``resource_id``; ``None`` when they would exceed MLflow's key
    length (such ids are never indexed, so their look-ups always search)."""
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {KINDS}, not {kind!r}")
    keys = [f"lolpop.{kind}.{resource_id}.{i}" for i in range(_CHUNKS)]
    return keys if len(keys[-1]) <= MAX_KEY_LENGTH else None


def encode(run_id: str) -> list[float] | None:
    """The chunk values of ``run_id`` (smaller id → greater values); ``None`` for ids not of
    MLflow's 32-hex form."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        return None
    number = int(run_id, 16) << (_CHUNKS * _CHUNK_BITS - 128)
    chunks = [(number >> (_CHUNK_BITS * (_CHUNKS - 1 - i))) & _CHUNK_MAX for i in range(_CHUNKS)]
    return [float(_CHUNK_MAX - chunk) for chunk in chunks]


def decode(values: Sequence[Any]) -> str | None:
    """The run id held by chunk ``values`` (read from the store: untrusted), or ``None``."""
    if len(values) != _CHUNKS:
        return None
    number = 0
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return None
        if not float(value).is_integer() or not 0 <= value <= _CHUNK_MAX:
            return None
        number = (number << _CHUNK_BITS) | (_CHUNK_MAX - int(value))
    if number & ((1 << (_CHUNKS * _CHUNK_BITS - 128)) - 1):
        return None
    return f"{number >> (_CHUNKS * _CHUNK_BITS - 128):032x}"


def entries(kind: str, resource_id: str, run_id: str, start_time: int) -> list[tuple[str, float, int]]:
    """``(key, value, step)`` metric entries indexing ``run_id`` (started at ``start_time`` ms) as
    ``kind`` of ``resource_id``; empty when the id cannot be indexed."""
    keys = metric_keys(kind, resource_id)
    values = encode(run_id)
    if keys is None or values is None:
        return []
    return [(k, value, int(start_time)) for k, value in zip(keys, values)]


def pointer(kind: str, resource_id: str, metrics: Mapping[str, Any],
            steps: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(run id, step)`` the index run's latest ``metrics`` (and their ``steps``) hold for
    ``resource_id``; ``None`` when absent, garbled, or the three entries disagree on the step."""
    keys = metric_keys(kind, resource_id)
    if keys is None or any(k not in metrics or k not in steps for k in keys):
        return None
    found = {steps[k] for k in keys}
    if len(found) != 1:
        return None
    step = found.pop()
    if isinstance(step, bool) or not isinstance(step, int):
        return None
    run_id = decode([metrics[k] for k in keys])
    return (run_id, step) if run_id is not None else None


def history_pointers(histories: Sequence[Sequence[tuple[Any, Any]]]) -> list[tuple[str, int]] | None:
    """``(run id, step)`` of every entry in a range of the index's metric history: ``histories``
    holds, for each of an id's :func:`metric_keys` in order, its ``(value, step)`` values in that
    range (read from the store: untrusted). ``None`` when a step does not hold exactly one value of
    each key (versions started in the same millisecond, whose chunks cannot be paired, or a garbled
    entry): the caller searches."""
    if len(histories) != _CHUNKS:
        return None
    at: list[dict[Any, set[Any]]] = [{} for _ in range(_CHUNKS)]
    for values, history in zip(at, histories):
        for value, step in history:
            values.setdefault(step, set()).add(value)
    if any(set(values) != set(at[0]) for values in at[1:]):
        return None
    out = []
    for step in sorted(at[0], reverse=True):
        chunks = [values[step] for values in at]
        if isinstance(step, bool) or not isinstance(step, int) or any(len(c) != 1 for c in chunks):
            return None
        run_id = decode([next(iter(c)) for c in chunks])
        if run_id is None:
            return None
        out.append((run_id, step))
    return out


def has_entry(kind: str, resource_id: str, metrics: Mapping[str, Any]) -> bool:
    """Whether the index's ``metrics`` hold anything at all for ``resource_id`` as ``kind``."""
    keys = metric_keys(kind, resource_id)
    return keys is not None and any(k in metrics for k in keys)


def complete(run: Any, experiment_creation_time: int | None) -> bool:
    """Whether index ``run`` holds every version of its experiment, so that a missing entry
    answers "none" without a search.

    Only the index built with its experiment (before any of the experiment's runs could finish)
    is complete. The tag alone is not believed — anyone may tag a run — but a run's start time
    cannot be changed after it is created, and the experiment's creation time is the server's:
    an index started more than :data:`COMPLETE_WINDOW_MS` away from its experiment's creation is
    not the complete one, whatever its tags say (a rebuilt or replacement index never is).
    """
    start = run.info.start_time
    return (run.data.tags.get(COMPLETE_TAG) == "True" and isinstance(experiment_creation_time, int)
            and isinstance(start, int) and abs(start - experiment_creation_time) <= COMPLETE_WINDOW_MS)


def metric_steps(run: Any) -> dict[str, int]:
    """The step of each latest metric of a fetched ``run``: the readers' own ``RunData`` carries
    ``metric_steps``; MLflow's keeps its ``Metric`` entities in ``_metric_objs`` (checked against
    the installed MLflow by the compatibility tripwire). Without them nothing can be verified, and
    every look-up searches."""
    data = run.data
    steps = getattr(data, "metric_steps", None)
    if steps is not None:
        return dict(steps)
    return {m.key: m.step for m in getattr(data, "_metric_objs", None) or ()}


def forged(run: Any, step: int) -> bool:
    """Whether an entry with ``step`` that names ``run`` (an existing run) was not written by
    lolpop: lolpop's entries have the named run's start time as their step."""
    return run.info.start_time is not None and run.info.start_time != step


def since(tags: Mapping[str, str]) -> int | None:
    """The index run's ``since`` (ms), or ``None`` when absent or not a plain integer."""
    text = tags.get(SINCE_TAG)
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 15:
        return None
    return int(text)


def indexed_resource_ids(tags: Mapping[str, str]) -> list[str]:
    """Every id a workflow run holding ``tags`` is a version of by the version rule's tag
    (``<id>.exists = True``), so finishing it indexes each one."""
    suffix = ".exists"
    return sorted(k[: -len(suffix)] for k, v in tags.items()
                  if v == "True" and k.endswith(suffix) and len(k) > len(suffix))


def index_run_id(experiment_tags: Mapping[str, str]) -> str | None:
    """The index run named by an experiment's tags (read from the store: checked), or ``None``."""
    value = experiment_tags.get(EXPERIMENT_TAG)
    return value if isinstance(value, str) and RUN_ID.match(value) else None


def nesting_tags(workflow_run_id: str) -> dict[str, str]:
    """The tags that fold the index run under ``workflow_run_id`` in MLflow's runs list."""
    return {MLFLOW_PARENT: workflow_run_id}


def is_index_run(run: Any, experiment_id: str) -> bool:
    """Whether a fetched ``run`` is an index run of experiment ``experiment_id`` that may be read."""
    info = run.info
    return (info.experiment_id == experiment_id and info.lifecycle_stage == "active"
            and run.data.tags.get(INDEX_RUN_TAG) == "True")


def answers(run: Any, since_ms: int, resource_id: str, experiment_id: str, *, step: int, before: Any = None,
            include_before: bool = False, deployed: bool = False) -> bool:
    """Whether the index's candidate ``run`` is what the search it replaces would return first:
    the newest version of ``resource_id`` in ``experiment_id`` (:mod:`lolpop.layout.versions`;
    ``deployed``: whose status is exactly DEPLOYED) that started no later than run ``before``
    (not ``before`` itself unless ``include_before``).

    The index names the newest run ever indexed, and every version missing from it started
    before ``since``; so a candidate meeting the search's conditions is also the newest that does.
    ``step`` is the entry's step: it must be the candidate's start time (see :func:`forged`).
    """
    info = run.info
    if info.experiment_id != experiment_id or info.lifecycle_stage != "active" or info.start_time is None:
        return False
    if forged(run, step):
        return False
    if not versions.is_version(run, resource_id) or info.start_time < since_ms:
        return False
    if deployed and run.data.tags.get(key(resource_id, "status")) != DEPLOYED_STATUS:
        return False
    if before is not None:
        if info.start_time > before.info.start_time:
            return False
        if info.run_id == before.info.run_id and not include_before:
            return False
    return True
