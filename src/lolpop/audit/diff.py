"""What changed between two versions of a model: data, winning trainer, metrics, vc info, data
artifacts, status — one row per field, read from a :class:`~lolpop.store.reader.StoreReader`.

Rows are grouped in sections (``version``, ``data <dataset id>``, ``artifacts <dataset
id>``, ``winner``, ``metrics``, ``vc``, ``metadata``); a value absent on one side is ``None``.
Artifacts are compared by file name and size (no download), which tells a changed data profile or
check report from an unchanged one in one listing request per dataset version.

Example:
    >>> d = diff_versions(reader, reader.locate("m", run_a), reader.locate("m", run_b))
    >>> [r.field for r in d.changed()]
    ['run_id', 'start_time', 'hexsha', 'rows', ...]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
# The winner record's keys: the storage format's, as the trainers' winner record writes them.
from lolpop.layout.keys import (
    LINEAGE_FLAG,
    LINEAGE_KEY,
    LEGACY_TRAINER_KEY,
    PARAMS_KEY,
    STRUCTURAL,
    TRAINER_CONFIG_KEY,
    TRAINER_KEY,
    TRANSFORMER_CONFIG_KEY,
    TRANSFORMER_KEY,
    WINNER_KEY,
    is_experiment_id,
)

#: Model version metadata shown in their own sections (or not at all: the lineage itself).
_SHOWN_ELSEWHERE = {"status", "metrics", LINEAGE_KEY, LINEAGE_FLAG, WINNER_KEY}
#: Dataset metadata that is bookkeeping, not a property of the data.
_DATASET_SKIP = {"previous_run_id"}
#: Versions read when looking for "the one before".
MAX_VERSIONS = 1000
#: Versions read around a given one (itself, those started in the same millisecond, the one before).
_NEAR = 20


@dataclass
class DiffRow:
    """One field: its values in version A and B, and whether they differ."""

    section: str
    field: str
    a: Any
    b: Any

    @property
    def changed(self) -> bool:
        return _canon(self.a) != _canon(self.b)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


@dataclass
class VersionDiff:
    """The difference between versions ``a`` and ``b`` (each ``{"id", "run_id", "start_time"}``)."""

    a: dict[str, Any]
    b: dict[str, Any]
    rows: list[DiffRow] = field(default_factory=list)

    def changed(self) -> list[DiffRow]:
        return [r for r in self.rows if r.changed]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "rows": [r.to_dict() for r in self.rows],
                "changed": len(self.changed())}

    def to_json(self) -> str:
        # ASCII only: control characters a store may hold come out as \u escapes, never raw.
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=True, default=str)

    def __repr__(self) -> str:
        # One line: the default repr held every row (thousands of characters in a notebook).
        return (f"<VersionDiff {str(self.b.get('id'))[:100]!r}: run {str(self.a.get('run_id'))[:8]} -> "
                f"{str(self.b.get('run_id'))[:8]}, {len(self.changed())} of {len(self.rows)} field(s) changed>")

    def _repr_html_(self) -> str:
        """Jupyter shows the diff as a table (stored text escaped, as in the lineage page)."""
        from lolpop.lineage.render import html_table

        caption = (f"Diff of {self.b.get('id')}: A = run {self.a.get('run_id')} ({self.a.get('start_time')}), "
                   f"B = run {self.b.get('run_id')} ({self.b.get('start_time')}); "
                   f"{len(self.changed())} field(s) changed")
        rows = [(r.section, r.field, r.a, r.b, "≠" if r.changed else "") for r in self.rows]
        return html_table(caption, ["section", "field", "A", "B", "changed"], rows)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _scalar(value: Any) -> Any:
    """Lists and dicts as compact JSON text: one table cell, compared as a whole."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    """``{"test": {"accuracy": 1}}`` -> ``{"test.accuracy": 1}`` (lists stay whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: _scalar(value)}


def _time(run: Any) -> str:
    ms = run.info.start_time or 0
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def _pairs(section: str, a: dict[str, Any], b: dict[str, Any]) -> list[DiffRow]:
    return [DiffRow(section, k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))]


# -- the parts of one version ----------------------------------------------------------------
def _datasets(reader: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """``{dataset id: (run or None, its run id)}`` from the version's recorded lineage."""
    out: dict[str, Any] = {}
    lineage = meta.get(LINEAGE_KEY)
    for item in lineage if isinstance(lineage, list) else []:
        if not isinstance(item, dict) or not item.get("id") or not item.get("run_id"):
            continue
        try:
            run = reader.get_run(str(item["run_id"]))
        except ResourceNotFoundError:
            run = None  # deleted since: its run id still shows what was used
        out[str(item["id"])] = (run, str(item["run_id"]))
    return out


def _dataset_fields(reader: Any, did: str, found: Any) -> dict[str, Any]:
    if found is None:
        return {}
    run, run_id = found
    fields: dict[str, Any] = {"run_id": run_id}
    if run is not None:
        for key, value in reader.metadata(did, run, structural=False).items():
            if key not in _DATASET_SKIP:
                fields.update(_flat(key, value))
    return fields


def _artifact_fields(reader: Any, did: str, found: Any) -> dict[str, Any]:
    """``{artifact id: "file (N bytes)"}`` of a dataset version's artifacts (profile, checks...);
    ids without the ``<dataset id>_`` the tracker puts before its own (``data_profile``...)."""
    if found is None or found[0] is None:
        return {}
    out: dict[str, list[str]] = {}
    for path, size in reader.artifacts(found[1], did):
        parts = path[len(did) + 1:].split("/", 1)
        name = parts[-1]
        aid = parts[0][len(did) + 1:] if parts[0].startswith(did + "_") else parts[0]
        out.setdefault(aid, []).append(f"{name} ({size} bytes)" if size is not None else name)
    return {aid: ", ".join(files) for aid, files in out.items()}


def _winner_fields(reader: Any, mv_id: str, run: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The winning experiment and what it records about its trainer (the winner record)."""
    exp_id = meta.get(WINNER_KEY)
    fields: dict[str, Any] = {"experiment": exp_id}
    if not isinstance(exp_id, str) or not is_experiment_id(exp_id):
        return fields
    try:
        exp = reader.locate(exp_id)
    except ResourceNotFoundError:
        fields["experiment"] = f"{exp_id} (gone)"
        return fields
    record = reader.metadata(exp_id, exp.run, structural=False)
    trainer = record.get(TRAINER_KEY) or meta.get(LEGACY_TRAINER_KEY)
    config = record.get(TRAINER_CONFIG_KEY)
    fields["trainer"] = trainer
    if isinstance(config, dict) and config.get("estimator") is not None:
        fields["estimator"] = _scalar(config.get("estimator"))
    params = record.get(PARAMS_KEY)
    if isinstance(params, dict):
        fields.update(_flat(PARAMS_KEY, params))
    elif params is not None:
        fields[PARAMS_KEY] = _scalar(params)
    fields[TRANSFORMER_KEY] = record.get(TRANSFORMER_KEY)
    if record.get(TRANSFORMER_CONFIG_KEY) is not None:
        fields[TRANSFORMER_CONFIG_KEY] = _scalar(record.get(TRANSFORMER_CONFIG_KEY))
    return fields


def _vc_and_other(meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    vc: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in meta.items():
        if key in _SHOWN_ELSEWHERE or key in STRUCTURAL:
            continue
        if key in ("hexsha", "uri") or key.endswith(("_hexsha", "_uri")):
            vc[key] = _scalar(value)
        elif not key.startswith("winning_experiment_"):
            other.update(_flat(key, value))
    return vc, other


# -- the diff --------------------------------------------------------------------------------
def diff_versions(reader: Any, a: Any, b: Any) -> VersionDiff:
    """Compare two model versions, each a :class:`~lolpop.store.reader.Located` (id + run).

    Raises:
        InvalidInputError: ``a`` or ``b`` is an experiment, not a model version.
    """
    for side in (a, b):
        if is_experiment_id(side.id):
            raise InvalidInputError(f"{side.id!r} is an experiment; diff compares model versions")
    meta_a = reader.metadata(a.id, a.run, structural=False)
    meta_b = reader.metadata(b.id, b.run, structural=False)
    result = VersionDiff(
        a={"id": a.id, "run_id": a.run.info.run_id, "start_time": _time(a.run)},
        b={"id": b.id, "run_id": b.run.info.run_id, "start_time": _time(b.run)},
    )
    rows = result.rows
    rows += _pairs("version", {"id": a.id, "run_id": a.run.info.run_id, "start_time": _time(a.run),
                               "status": meta_a.get("status")},
                   {"id": b.id, "run_id": b.run.info.run_id, "start_time": _time(b.run),
                    "status": meta_b.get("status")})
    rows[:] = sorted(rows, key=lambda r: ["id", "run_id", "start_time", "status"].index(r.field))
    data_a, data_b = _datasets(reader, meta_a), _datasets(reader, meta_b)
    for did in sorted(set(data_a) | set(data_b)):
        rows += _pairs(f"data {did}", _dataset_fields(reader, did, data_a.get(did)),
                       _dataset_fields(reader, did, data_b.get(did)))
    for did in sorted(set(data_a) | set(data_b)):
        rows += _pairs(f"artifacts {did}", _artifact_fields(reader, did, data_a.get(did)),
                       _artifact_fields(reader, did, data_b.get(did)))
    rows += _pairs("winner", _winner_fields(reader, a.id, a.run, meta_a), _winner_fields(reader, b.id, b.run, meta_b))
    rows += _pairs("metrics", _flat("", meta_a.get("metrics")) if isinstance(meta_a.get("metrics"), dict) else {},
                   _flat("", meta_b.get("metrics")) if isinstance(meta_b.get("metrics"), dict) else {})
    (vc_a, other_a), (vc_b, other_b) = _vc_and_other(meta_a), _vc_and_other(meta_b)
    rows += _pairs("vc", vc_a, vc_b)
    rows += _pairs("metadata", other_a, other_b)
    return result


def version_pair(reader: Any, model_id: str, run_ids: tuple[str, ...] | list[str] = (),
                 experiment_ids: list[str] | None = None) -> tuple[Any, Any]:
    """The two versions ``lolpop diff`` compares, as ``(a, b)`` (``a`` the older by default):

    * no run: the newest version against the one before it;
    * one run: that version against the version before it;
    * two runs: those two, in the order given.

    Versions follow :mod:`lolpop.layout.versions` (finished workflow runs recording the id), in
    ``experiment_ids`` (default: the reader's experiments).

    Raises:
        InvalidInputError: more than two runs.
        ResourceNotFoundError: no such version, or no version before it.
    """
    if len(run_ids) > 2:
        raise InvalidInputError(f"give at most two --run options, got {len(run_ids)}")
    if len(run_ids) == 2:
        return reader.locate(model_id, run_ids[0]), reader.locate(model_id, run_ids[1])
    # A version and the one before it need a few rows, not the whole history (a search that grows
    # with it: 1.97 s at 1 000 cycles on a server, where two rows take 0.4 s).
    if run_ids:
        b = reader.locate(model_id, run_ids[0])
        start = b.run.info.start_time or 0
        runs = reader.versions(model_id, limit=_NEAR, before=start, experiment_ids=experiment_ids)
        if len(runs) == _NEAR and runs[-1].info.run_id == b.run_id:  # all of them in b's millisecond
            runs = reader.versions(model_id, limit=MAX_VERSIONS, before=start,
                                    experiment_ids=experiment_ids)
        ids = [r.info.run_id for r in runs]
        # Every row started no later than b (the search says so): those after b, or all but b.
        older = runs[ids.index(b.run_id) + 1:] if b.run_id in ids else [r for r in runs if r.info.run_id != b.run_id]
    else:
        runs = reader.versions(model_id, limit=2, experiment_ids=experiment_ids)
        if not runs:
            raise ResourceNotFoundError(f"no version of {model_id!r} in the store")
        b = reader.locate(model_id, runs[0].info.run_id)
        older = runs[1:]
    if not older:
        raise ResourceNotFoundError(
            f"{model_id!r} has no version before run {b.run_id}; pass --run A --run B to compare two runs")
    return reader.locate(model_id, older[0].info.run_id), b
