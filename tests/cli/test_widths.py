"""Every reading command at 80, 100 and 120 columns, on a store two quickstart-like cycles wrote
with real trackers: no line wider than the terminal, no id or status cut or broken over lines,
no column squeezed to a few characters, no letter alone on a line of a table cell."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from lolpop.audit import status_history
from lolpop.cli.main import cli
from lolpop.store.reader import StoreReader, open_client
from tests.audit.conftest import CYCLES, run_cycle

WIDTHS = [80, 100, 120]
#: Box-drawing verticals between table cells (rich's default heavy-head box).
_VERTICAL = re.compile("[│┃]")


@pytest.fixture
def store(make_tracker, conf, tmp_path) -> dict[str, Any]:
    """The quickstart's shape: two cycles, each dataset version and model version carrying the
    metadata the quickstart records (so `history` has several key values per version)."""
    cycles: list[dict[str, Any]] = []
    for n, cycle in enumerate(CYCLES, start=1):
        previous = {"previous_deployed_run_id": cycles[-1]["run"]} if cycles else {}
        cycles.append(run_cycle(make_tracker, tmp_path, n, cycle,
                                dv_meta={"checks_passed": True, "cycle": n, "positive_rate": 0.6333},
                                mv_meta={"model_trainer": cycle["trainer"], **previous}))
    uri, experiment = conf["config"]["mlflow_tracking_uri"], conf["config"]["mlflow_experiment_name"]
    reader = StoreReader.for_experiment(open_client(uri), experiment)
    try:
        events = status_history(reader, "breast_cancer_model")
        experiment_id = reader.get("breast_cancer_model", reader.get_run(cycles[1]["run"]), "winning_experiment_id")
    finally:
        reader.close()
    return {"uri": uri, "experiment": experiment, "cycles": cycles, "events": events,
            "winner": experiment_id}


def run(store: dict[str, Any], width: int, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--tracking-uri", store["uri"], "--experiment", store["experiment"], *args],
                                env={"COLUMNS": str(width)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def tables(output: str) -> list[list[str]]:
    """The box tables in ``output``: each as its lines, top border to bottom border."""
    found, current = [], None
    for line in output.splitlines():
        if line.startswith("┏"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.startswith("└"):
                found.append(current)
                current = None
    return found


def check_tables(output: str) -> None:
    """No column of a box table narrower than 4 characters holds more than one symbol (a "≠"
    mark may be 1 wide; a value may not), and no line that continues a wrapped cell holds a
    single letter (a word broken a letter a line). A continuation line is one whose first cell is
    empty, or whose cells are all empty but one; a one-letter value on a row of its own (the
    parameter ``C``) is fine."""
    for table in tables(output):
        top = table[0]
        bounds = [i for i, ch in enumerate(top) if ch in "┏┳┓"]
        widths = [b - a - 3 for a, b in zip(bounds, bounds[1:])]  # minus the two padding spaces
        for line in table:
            if not _VERTICAL.match(line):
                continue
            cells = [c.strip() for c in _VERTICAL.split(line)[1:-1]]
            assert len(cells) == len(widths), (line, widths)
            continuation = not cells[0] or sum(1 for c in cells if c) == 1
            for cell, width in zip(cells, widths):
                if line.startswith("│") and continuation:
                    assert not re.fullmatch(r"[A-Za-z]", cell), f"a letter alone in a cell: {line!r}"
                if width < 4:
                    assert len(cell) <= 1 and not cell.isalnum(), f"a {width}-wide column holds {cell!r}: {line!r}"


def check(output: str, width: int, whole: list[str]) -> None:
    lines = output.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} line(s) wider than {width}: {too_wide[:3]}"
    assert "…" not in output, "something was cut: " + next(line for line in lines if "…" in line)
    check_tables(output)
    # Outside tables (listings, trees): no line that is one letter (or a tree guide and one letter).
    for line in lines:
        assert not re.fullmatch(r"[\s│├└─]*[A-Za-z]\s*", line), f"a letter alone on a line: {line!r}"
    for value in whole:  # ids, statuses, key=value pairs: each whole, on one line
        assert any(value in line for line in lines), f"{value!r} is not whole on one line at {width}:\n{output}"


@pytest.mark.parametrize("backend", ["sqlite", "server"])
@pytest.mark.parametrize("width", WIDTHS)
def test_history_at_every_width(store, width):
    one, two = store["cycles"]
    out = run(store, width, "history", "breast_cancer_model")
    check(out, width, [one["run"], two["run"], "DEPLOYED", "bbbbbbbbbb", "aaaaaaaaaa",
                       "model_trainer=LogisticRegression", "model_trainer=GradientBoostingClassifier",
                       f"previous_deployed_run_id={one['run'][:8]}",
                       f"winning_experiment_id={store['winner'][:8]}.breast_cancer_model"])
    assert out.count("DEPLOYED") == 2
    out = run(store, width, "history", "breast_cancer")
    check(out, width, [one["run"], two["run"], "cycle=1", "cycle=2", "positive_rate=0.6333", "checks_passed=true"])


@pytest.mark.parametrize("backend", ["sqlite", "server"])
@pytest.mark.parametrize("width", WIDTHS)
def test_deployment_history_at_every_width(store, width):
    events = store["events"]
    out = run(store, width, "history", "breast_cancer_model", "--deployments")
    whole = [e.run_id for e in events] + ["— → PROMOTED", "PROMOTED → DEPLOYED", str(events[0].user)]
    whole += [e.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for e in events]
    check(out, width, whole)
    assert out.count("PROMOTED") == 4 and out.count("DEPLOYED") == 2
    at = events[1].time.isoformat()
    out = run(store, width, "history", "breast_cancer_model", "--deployments", "--at", at)
    check(out, width, [events[1].run_id, "PROMOTED → DEPLOYED"])


@pytest.mark.parametrize("backend", ["sqlite", "server"])
@pytest.mark.parametrize("width", WIDTHS)
def test_diff_at_every_width(store, width):
    one, two = store["cycles"]
    out = run(store, width, "diff", "breast_cancer_model")
    check(out, width, [f"A = run {one['run']}", f"B = run {two['run']}", "DEPLOYED", "training_params.max_iter",
                       "training_params.n_estimators", "aaaaaaaaaa", "bbbbbbbbbb", "LogisticRegression"])
    changed = run(store, width, "diff", "breast_cancer_model", "--changed")
    check(changed, width, ["hexsha"])


@pytest.mark.parametrize("backend", ["sqlite", "server"])
@pytest.mark.parametrize("width", WIDTHS)
def test_impact_at_every_width(store, width):
    one, two = store["cycles"]
    out = run(store, width, "impact", "breast_cancer")
    check(out, width, [two["run"][:10], two["pj_run"][:10], "DEPLOYED", "● yes", "breast_cancer_model_predictions",
                       "model_version", "prediction_job", f"breast_cancer@{two['run'][:8]}",
                       f"breast_cancer_model@{two['run'][:8]}"])
    out = run(store, width, "impact", "breast_cancer", "--run", one["run"])
    check(out, width, [one["run"][:10], one["pj_run"][:10], "DEPLOYED"])


def _without_link(out: str) -> str:
    """``show`` output without its MLflow UI link, which is one line at any width (copied whole,
    never folded or cut); the rest is checked."""
    [link] = [line for line in out.splitlines() if line.startswith("MLflow UI: http")]
    assert link.endswith("?workflowType=machine_learning")
    return "\n".join(line for line in out.splitlines() if line != link)


@pytest.mark.parametrize("backend", ["sqlite", "server"])
@pytest.mark.parametrize("width", WIDTHS)
def test_show_and_lineage_at_every_width(store, width):
    one, two = store["cycles"]
    out = _without_link(run(store, width, "show", "breast_cancer_model"))
    check(out, width, [two["run"], "DEPLOYED", "previous_deployed_run_id", one["run"], "winning_experiment_id",
                       "breast_cancer_model/lineage/lineage.html"])
    out = _without_link(run(store, width, "show", "breast_cancer", "--run", one["run"]))
    check(out, width, [one["run"], "checks_passed", "positive_rate"])
    out = _without_link(run(store, width, "show", store["winner"]))
    check(out, width, ["training_params", "SklearnModelTrainer"])
    out = run(store, width, "lineage", "breast_cancer_model")
    check(out, width, [two["run"], two["pj_run"], "status=DEPLOYED", "[winner]", "[candidate]", "[predicted]"])
    out = run(store, width, "lineage", "breast_cancer", "--run", one["run"], "--direction", "downstream")
    check(out, width, [one["run"], one["pj_run"], "prediction_count=100"])


@pytest.mark.parametrize("width", WIDTHS)
def test_quickstart_summary_at_every_width(width):
    from rich.console import Console

    from lolpop.cli.quickstart import print_summary
    from lolpop.quickstart import CycleSummary, QuickstartSummary

    cycles = [CycleSummary(cycle=n, dataset_run_id=f"{n}" * 32, hexsha=f"{n}abc" * 10, rows=rows, winner=winner,
                           accuracy=acc, experiment_id=f"{n}" * 32 + ".m", model_version_run_id=f"{n}b" * 16,
                           status="DEPLOYED", previous_deployed_run_id=None, prediction_run_id=f"{n}c" * 16,
                           predictions=100)
              for n, rows, winner, acc in ((1, 350, "GradientBoostingClassifier", 0.9773),
                                           (2, 469, "LogisticRegression", 0.9831))]
    summary = QuickstartSummary(workdir="quickstart", tracking_uri="sqlite:///mlflow.db", experiment="lolpop-quickstart",
                                cycles=cycles, lineage_artifact="breast_cancer_model/lineage/lineage.html")
    out = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_summary(out, summary)
    text = out.export_text()
    # The commands it prints are not wrapped (they are copied as they are): only the summary counts.
    summary_part = text.split("\nLook at it in the MLflow UI:")[0]
    check(summary_part, width, ["GradientBoosting", "LogisticRegression", "DEPLOYED", "1b1b1b1b", "2b2b2b2b",
                                "0.9773", "1abc1abc1a", "cycle", "accuracy"])
    assert summary_part.count("DEPLOYED") == 2 and "1c1c1c1c" in summary_part and "100" in summary_part
