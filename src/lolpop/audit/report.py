"""The audit report of one model version: what an auditor or a model-risk reviewer asks for, on
one self-contained page (``lolpop report``, :func:`build_report`).

It holds the version's lineage picture, the data it was trained on (dataset versions, hexsha,
rows, checks and profile artifacts), the candidate experiments and what is recorded of why the
winner won, its metrics, the diff against the previous version, its full status history (inferred
events of versions an older lolpop wrote marked as such) and the quarantine and taint findings.

Everything in it is read from the store, so everything in it is untrusted text: the HTML escapes
every value (:func:`lolpop.lineage.render.cell`) under the lineage page's Content-Security-Policy
(nothing is loaded, nothing runs); the Markdown escapes HTML and Markdown syntax in every value,
so a stored ``</script>`` or ``| --- |`` is shown, never obeyed.

Requests (a :class:`~lolpop.store.reader.StoreReader`, runs cached): the lineage graph's (see
:mod:`lolpop.lineage.graph`), one search for the candidate experiments, one ``list_artifacts`` per
folder of each dataset version's artifacts, one search for the versions (diff), one search for the
status history; a version with no ``--run`` costs one more (the newest).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.layout import arguments, filters
from lolpop.lineage.taint import TaintFinding, taint_of
from lolpop.layout.events import StatusEvent
from lolpop.layout.keys import LINEAGE_KEY, MLFLOW_PARENT, PARAMS_KEY, TRAINER_CONFIG_KEY, TRAINER_KEY, WINNER_KEY, resource_id

#: The report's formats (``lolpop report --format``).
FORMATS = ("html", "md")

@dataclass
class DatasetVersion:
    """A dataset version the model version was trained on."""

    id: str
    run_id: str
    found: bool
    fields: dict[str, Any] = field(default_factory=dict)
    #: ``[(artifact id, path in the run's artifacts, size)]``: profiles, checks, comparisons...
    artifacts: list[tuple[str, str, int | None]] = field(default_factory=list)


@dataclass
class Candidate:
    """One experiment of the model version."""

    id: str
    run_id: str
    winner: bool
    trainer: Any
    params: dict[str, Any]
    metrics: dict[str, Any]


@dataclass
class AuditReport:
    """The audit report of one model version; :meth:`to_html` / :meth:`to_markdown` render it."""

    model_id: str
    run_id: str
    experiment_id: str
    start_time: str
    run_status: str
    status: Any
    graph: Any
    datasets: list[DatasetVersion]
    candidates: list[Candidate]
    winner: str | None
    why: list[str]
    metrics: dict[str, Any]
    diff: Any
    diff_note: str
    history: list[StatusEvent]
    #: ``None``: not checked (no taint source wired); ``[]``: checked, none recorded.
    findings: list[TaintFinding]
    generated_at: datetime

    @property
    def title(self) -> str:
        return f"Audit report: {self.model_id} (run {self.run_id})"

    def to_html(self) -> str:
        """One self-contained HTML page: inline CSS and SVG, no script, nothing loaded."""
        return _html(self)

    def to_markdown(self) -> str:
        """The report as CommonMark/GFM text (tables; a Mermaid block for the lineage picture)."""
        return _markdown(self)

    def render(self, fmt: str) -> str:
        """:meth:`to_html` for ``html``, :meth:`to_markdown` for ``md``.

        Raises:
            InvalidInputError: another format.
        """
        arguments.one_of(fmt, FORMATS, "report format")
        return self.to_html() if fmt == "html" else self.to_markdown()


# -- reading ---------------------------------------------------------------------------------
def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}_" if isinstance(v, dict) else f"{prefix}{k}"))
        return out
    return {prefix.rstrip("_"): value} if prefix else {}


def _iso(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _candidates(reader: Any, model_id: str, run: Any, winner: Any) -> list[Candidate]:
    out, starts = [], []
    for erun in reader.search(filters.tag_clause(MLFLOW_PARENT, run.info.run_id),
                              experiment_ids=[run.info.experiment_id], max_results=5000):
        eid = f"{erun.info.run_id}.{model_id}"
        if not reader.has_resource(eid, erun):
            continue
        record = reader.metadata(eid, erun, structural=False)
        params = record.get(PARAMS_KEY)
        trainer = record.get(TRAINER_KEY)
        config = record.get(TRAINER_CONFIG_KEY)
        if isinstance(config, dict) and isinstance(config.get("estimator"), str):
            trainer = f"{trainer} ({config['estimator']})"
        metrics = _flat(record.get("metrics")) if isinstance(record.get("metrics"), dict) else dict(erun.data.metrics)
        starts.append(erun.info.start_time or 0)
        out.append(Candidate(eid, erun.info.run_id, eid == winner, trainer,
                             params if isinstance(params, dict) else ({} if params is None else {"": params}),
                             {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}))
    # The winner first, then in the order they were run (run ids are random: no order of their own).
    return [c for _, c in sorted(zip(starts, out), key=lambda p: (not p[1].winner, p[0], p[1].id))]


def _why(candidates: list[Candidate], winner: Any) -> list[str]:
    """What the store says about the choice: the recorded winner, and where it ranks on each
    metric every candidate recorded. lolpop records which experiment won, not the rule."""
    if not winner:
        return ["No winning experiment is recorded for this version."]
    lines = [f"Recorded winner ({WINNER_KEY}): {winner}."]
    chosen = next((c for c in candidates if c.winner), None)
    if chosen is None:
        return lines + ["The recorded winner is not among this version's experiments in the store."]
    if len(candidates) < 2:
        return lines + ["It was the only candidate."]
    lines.append("The selection rule is not recorded; by each metric every candidate recorded:")
    common = set.intersection(*(set(c.metrics) for c in candidates))
    for name in sorted(common):
        ranked = sorted(candidates, key=lambda c: c.metrics[name], reverse=True)
        rank = next(i for i, c in enumerate(ranked) if c.winner) + 1
        where = "highest" if rank == 1 else ("lowest" if rank == len(ranked) else f"rank {rank} from the top")
        lines.append(f"{name}: winner {chosen.metrics[name]:.6g}, {where} of {len(ranked)} candidates")
    if not common:
        lines.append("no metric is recorded by every candidate.")
    return lines


def _datasets(reader: Any, meta: dict[str, Any]) -> list[DatasetVersion]:
    out = []
    lineage = meta.get(LINEAGE_KEY)
    for item in lineage if isinstance(lineage, list) else []:
        if not isinstance(item, dict) or not item.get("id") or not item.get("run_id"):
            continue
        did, drun_id = str(item["id"]), str(item["run_id"])
        try:
            drun = reader.get_run(drun_id)
        except ResourceNotFoundError:
            out.append(DatasetVersion(did, drun_id, False))
            continue
        fields = _flat(reader.metadata(did, drun, structural=False))
        artifacts = []
        for path, size in reader.artifacts(drun_id, did):
            first = path[len(did) + 1:].split("/", 1)[0]
            aid = first[len(did) + 1:] if first.startswith(did + "_") else first
            artifacts.append((aid, path, size))
        out.append(DatasetVersion(did, drun_id, True, fields, artifacts))
    return out


#: ``build_report(previous=...)`` left out: the version before it is searched for.
SEARCH = object()


def build_report(reader: Any, model_id: str, run_id: str | None = None,
                 findings: Iterable[Any] | None = None, previous: Any = SEARCH) -> AuditReport:
    """The audit report of model version ``model_id`` in run ``run_id`` (default: the newest).

    Args:
        reader: a :class:`~lolpop.store.reader.StoreReader`.
        model_id: the model version's resource id.
        run_id: the run holding the version; ``None`` for the newest version.
        findings: the version's taint findings (:class:`lolpop.lineage.taint.TaintFinding`);
            ``None``: walked from the store (:func:`lolpop.lineage.taint.taint_of`), so the report
            shows whatever quarantine holds now.
        previous: the version it is compared with, when the caller knows it: its run, or ``None``
            for none (the first version). Left out, it is the version before it in its experiment
            (:func:`lolpop.audit.diff.version_pair`, one search). The tracker passes what its own
            ``get_prev_resource_version`` finds (the version index: no search that grows with the
            model's history).

    Raises:
        InvalidResourceIdError: an empty or non-string model id.
        InvalidInputError: a malformed finding.
        ResourceNotFoundError: no such version.

    Example:
        >>> report = build_report(reader, "breast_cancer_model")
        >>> Path("report.html").write_text(report.to_html())
    """
    from lolpop.audit.deployments import version_history
    from lolpop.audit.diff import diff_versions, version_pair
    from lolpop.lineage.graph import build_lineage
    from lolpop.store.reader import Located

    model_id = resource_id(arguments.resource_id(model_id, "model id"))
    given = None if findings is None else list(findings)
    if given is not None and not all(isinstance(f, TaintFinding) for f in given):
        raise InvalidInputError("findings must be lolpop.lineage.taint.TaintFinding objects", value=findings)
    version = reader.locate(model_id, run_id)
    run = version.run
    meta = reader.metadata(model_id, run, structural=False)
    graph = build_lineage(reader, version, "both", None)
    winner = meta.get(WINNER_KEY)
    candidates = _candidates(reader, model_id, run, winner)
    first = "This is the first version of the model: there is nothing before it to compare."
    if previous is not SEARCH:
        older = None if previous is None else Located(model_id, reader.remember(previous))
        diff, note = (None, first) if older is None else (diff_versions(reader, older, version), "")
    else:
        try:
            # The version before it in its own experiment, as the tracker's get_prev_resource_version.
            older, newer = version_pair(reader, model_id, (version.run_id,), [run.info.experiment_id])
            diff, note = diff_versions(reader, older, newer), ""
        except ResourceNotFoundError:
            diff, note = None, first
    history = list(version_history(run, model_id))
    if given is None:
        given = taint_of(reader, model_id, version.run_id, run=run)
    metrics = _flat(meta.get("metrics")) if isinstance(meta.get("metrics"), dict) else {}
    return AuditReport(
        model_id=model_id, run_id=version.run_id, experiment_id=run.info.experiment_id,
        start_time=_iso(run.info.start_time), run_status=run.info.status, status=meta.get("status"), graph=graph,
        datasets=_datasets(reader, meta), candidates=candidates, winner=winner if isinstance(winner, str) else None,
        why=_why(candidates, winner), metrics=metrics, diff=diff, diff_note=note, history=history, findings=given,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0),
    )


# -- shared text -----------------------------------------------------------------------------
def _text(value: Any) -> str:
    from lolpop.lineage.safe_text import printable

    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return printable(value)


def _short_run(run_id: str) -> str:
    return str(run_id)[:8]


def _path_text(path: Sequence[str]) -> str:
    """A taint path of node keys (``<id>@<run id>``), each run id shortened."""
    return " → ".join(f"{key.rpartition('@')[0]}@{_short_run(key.rpartition('@')[2])}" for key in path)


def _when(when: datetime | None) -> str:
    if when is None:
        return ""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _event_row(e: StatusEvent) -> list[str]:
    from lolpop.audit.deployments import INFERRED_USER

    when = ("≈ " if e.inferred else "") + f"{e.time:%Y-%m-%d %H:%M:%S.%f}"[:-3]
    return [when, _text("—" if e.old_status is None else e.old_status), _text(e.new_status),
            "" if e.registry_version is None else f"v{e.registry_version}",
            INFERRED_USER if e.inferred else _text(e.user)]


_INFERRED_NOTE = ("≈ inferred: written before lolpop recorded status events; the version's status tag at "
                  "its run's end time (who and the exact time were not recorded).")


def _sections(report: AuditReport) -> dict[str, Any]:
    """The tables of the report, as plain text cells, shared by both formats."""
    data_rows = []
    for d in report.datasets:
        f = d.fields
        hexsha = f.get("hexsha") or next((v for k, v in f.items() if k.endswith("_hexsha")), None)
        rows = f.get("rows", f.get("num_rows"))
        checks = [a for a in d.artifacts if a[0].endswith("checks_report")]
        data_rows.append([d.id, d.run_id, _text(hexsha) if d.found else "(run deleted)", _text(f.get("uri")),
                          _text(rows), ", ".join(f"{a[0]}" for a in checks) or "none recorded"])
    artifacts = [[d.id, aid, f"runs:/{d.run_id}/{path}", "" if size is None else str(size)]
                 for d in report.datasets for aid, path, size in d.artifacts]
    other = [[d.id, k, _text(v)] for d in report.datasets for k, v in sorted(d.fields.items())
             if k not in ("hexsha", "uri", "rows") and not k.endswith(("_hexsha", "_uri"))]
    candidates = [[("★ " if c.winner else "") + c.id, _text(c.trainer),
                   ", ".join(f"{k}={_text(v)}" for k, v in sorted(c.params.items())),
                   ", ".join(f"{k}={v:.6g}" for k, v in sorted(c.metrics.items()))] for c in report.candidates]
    metrics = [[k, _text(v)] for k, v in sorted(report.metrics.items())]
    diff_rows = [] if report.diff is None else [
        [r.section, r.field, _text(r.a), _text(r.b)] for r in report.diff.changed()]
    findings = [
        [_text(f.dataset_version_id), _text(f.run_id), _text(f.reason), _text(f.user), _when(f.time),
         _text(_path_text(f.path))]
        for f in report.findings]
    return {"data": data_rows, "artifacts": artifacts, "other": other, "candidates": candidates,
            "metrics": metrics, "diff": diff_rows, "history": [_event_row(e) for e in report.history],
            "findings": findings}


_HEADERS = {
    "findings": ["quarantined dataset version", "its run", "reason", "who", "when", "lineage path"],
    "data": ["dataset version", "run", "hexsha", "uri", "rows", "checks"],
    "artifacts": ["dataset version", "artifact", "location", "bytes"],
    "other": ["dataset version", "field", "value"],
    "candidates": ["experiment (★ winner)", "trainer", "params", "metrics"],
    "metrics": ["metric", "value"],
    "diff": ["section", "field", "previous", "this version"],
    "history": ["time (UTC)", "old", "new", "registry", "by"],
}


def _diff_caption(report: AuditReport) -> str:
    if report.diff is None:
        return report.diff_note
    d = report.diff
    return (f"Against the previous version (run {d.a.get('run_id')}, started {d.a.get('start_time')}): "
            f"{len(d.changed())} of {len(d.rows)} field(s) changed; below, the changed ones (lolpop diff shows all).")


# -- HTML ------------------------------------------------------------------------------------
_REPORT_CSS = """
h2 { font-size: 16px; margin: 28px 0 6px 0; border-bottom: 1px solid #cfd8dc; padding-bottom: 3px; }
ul.why { font-size: 13px; margin: 4px 0; }
p.none { font-size: 13px; color: #455a64; }
p.taint { font-size: 13px; color: #b71c1c; font-weight: 600; }
"""


def _html_table(key: str, rows: list[list[str]], empty: str = "none recorded") -> str:
    if not rows:
        return f'<p class="none">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS[key])
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _html(report: AuditReport) -> str:
    from lolpop.lineage.render import _CSS, CSP, _nodes_table, _omitted, to_svg

    esc = html.escape
    s = _sections(report)
    if not report.findings:
        taint = '<p class="none">none recorded</p>'
    else:
        taint = (f'<p class="taint">Tainted: built from {len(report.findings)} quarantined dataset version(s).</p>\n'
                 + _html_table("findings", s["findings"]))
    why = "\n".join(f"<li>{esc(_text(line))}</li>" for line in report.why)
    inferred = f'<p class="sub">{esc(_INFERRED_NOTE)}</p>' if any(e.inferred for e in report.history) else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{esc(_text(report.title))}</title>
<style>{_CSS}{_REPORT_CSS}</style>
</head>
<body>
<h1>{esc(_text(report.title))}</h1>
<p class="sub">model version <code>{esc(_text(report.model_id))}</code> · run <code>{esc(report.run_id)}</code>
 (MLflow experiment {esc(_text(report.experiment_id))}) · started {esc(report.start_time)} UTC · run {esc(_text(report.run_status))}
 · status <b>{esc(_text(report.status) or "none")}</b> · generated {esc(_when(report.generated_at))} by lolpop</p>
<h2>Quarantine and taint</h2>
{taint}
<h2>Lineage</h2>{_omitted(report.graph)}
<div class="graph">
{to_svg(report.graph)}
</div>
{_nodes_table(report.graph)}
<h2>Data it was trained on</h2>
{_html_table("data", s["data"], "no dataset versions recorded")}
<p class="caption">Artifacts (profiles, checks)</p>
{_html_table("artifacts", s["artifacts"])}
<p class="caption">Recorded metadata</p>
{_html_table("other", s["other"])}
<h2>Candidates and the winner</h2>
<ul class="why">
{why}
</ul>
{_html_table("candidates", s["candidates"], "no experiments recorded")}
<h2>Metrics</h2>
{_html_table("metrics", s["metrics"])}
<h2>Changes since the previous version</h2>
<p class="sub">{esc(_text(_diff_caption(report)))}</p>
{_html_table("diff", s["diff"], "no field changed") if report.diff is not None else ""}
<h2>Status history</h2>
{_html_table("history", s["history"], "no status recorded")}
{inferred}
</body>
</html>
"""


# -- Markdown --------------------------------------------------------------------------------
#: What Markdown (CommonMark, GFM tables, GitHub's math) may read as syntax inside a line; each is
#: backslash-escaped (an ASCII punctuation character after a backslash is always literal).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|&!~$])")
#: What makes a block at the start of a line (heading, list item, quote, thematic break...).
_MD_LEADING = re.compile(r"^(\s*)([#+\-=>]|\d+[.)](?=\s|$))")


def md(value: Any) -> str:
    """``value`` as inert Markdown text: control characters escaped (:func:`printable`, so it is one
    line), every Markdown and HTML special character backslash-escaped (a table's ``|`` too), a
    block marker at its start escaped, and ``://`` broken so a stored URL is not autolinked."""
    out = _MD_SPECIAL.sub(r"\\\1", _text(value)).replace("://", "\\://").replace("www.", "www\\.")

    def lead(m: re.Match[str]) -> str:
        mark = m.group(2)  # a digit is no escape: "1." becomes "1\.", "#" becomes "\#"
        return m.group(1) + (mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark)

    return _MD_LEADING.sub(lead, out)


def _md_table(key: str, rows: list[list[str]], empty: str = "none recorded") -> str:
    if not rows:
        return f"_{md(empty)}_\n"
    lines = ["| " + " | ".join(md(h) for h in _HEADERS[key]) + " |",
             "|" + "---|" * len(_HEADERS[key])]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _fenced(body: str, info: str) -> str:
    """``body`` in a code fence longer than any run of backticks in it (so it cannot end early)."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body.rstrip(chr(10))}\n{fence}\n"


def _markdown(report: AuditReport) -> str:
    from lolpop.lineage.render import to_mermaid

    s = _sections(report)
    if not report.findings:
        taint = "_none recorded_\n"
    else:
        taint = (f"**Tainted: built from {len(report.findings)} quarantined dataset version(s).**\n\n"
                 + _md_table("findings", s["findings"]))
    nodes = [[n.label + (" ★" if n.winner else ""), n.type or "", n.role, n.id, n.run_id, n.run_status]
             for n in report.graph.nodes.values()]
    node_table = "\n".join(["| resource | type | role | id | run | run status |", "|---|---|---|---|---|---|"]
                           + ["| " + " | ".join(md(c) for c in row) + " |" for row in nodes])
    parts = [
        f"# {md(report.title)}\n",
        f"Model version `{_code(report.model_id)}` · run `{report.run_id}` · MLflow experiment "
        f"{md(report.experiment_id)} · started {md(report.start_time)} UTC · run {md(report.run_status)} · "
        f"status **{md(report.status) or 'none'}** · generated {md(_when(report.generated_at))} by lolpop\n",
        "## Quarantine and taint\n", taint,
        "## Lineage\n", _fenced(to_mermaid(report.graph), "mermaid"), node_table + "\n",
        "## Data it was trained on\n", _md_table("data", s["data"], "no dataset versions recorded"),
        "Artifacts (profiles, checks):\n", _md_table("artifacts", s["artifacts"]),
        "Recorded metadata:\n", _md_table("other", s["other"]),
        "## Candidates and the winner\n", "\n".join(f"- {md(line)}" for line in report.why) + "\n",
        _md_table("candidates", s["candidates"], "no experiments recorded"),
        "## Metrics\n", _md_table("metrics", s["metrics"]),
        "## Changes since the previous version\n", md(_diff_caption(report)) + "\n",
    ]
    if report.diff is not None:
        parts.append(_md_table("diff", s["diff"], "no field changed"))
    parts += ["## Status history\n", _md_table("history", s["history"], "no status recorded")]
    if any(e.inferred for e in report.history):
        parts.append(md(_INFERRED_NOTE) + "\n")
    return "\n".join(parts)


def _code(value: Any) -> str:
    """Text for inside a one-backtick code span: a backtick in it would end the span early."""
    return _text(value).replace("`", "'")
