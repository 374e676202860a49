"""``lolpop diff`` and ``lolpop impact`` through click's CliRunner: the table, JSON, and a hostile
store (terminal escapes and rich markup in stored text are shown inert)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lolpop.cli.main import cli
from tests.audit.conftest import HOSTILE


def invoke(store, *args):
    return CliRunner().invoke(cli, ["--tracking-uri", store["uri"], "--experiment", store["experiment"], *args],
                              catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_diff_table_and_json(two_cycles):
    one, two = two_cycles["cycles"]
    result = invoke(two_cycles, "diff", "breast_cancer_model")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"A = run {one['run'][:8]}" in out and f"B = run {two['run'][:8]}" in out
    hexsha_row = next(line for line in out.splitlines() if " hexsha " in line)
    assert "aaaaaaaaaa" in hexsha_row and "bbbbbbbbbb" in hexsha_row and "≠" in hexsha_row
    columns_row = next(line for line in out.splitlines() if " columns " in line)
    assert "≠" not in columns_row
    assert "LogisticRegression" in out and "training_params.max_iter" in out

    result = invoke(two_cycles, "diff", "breast_cancer_model", "--run", two["run"], "--run", one["run"],
                    "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["a"]["run_id"], data["b"]["run_id"]) == (two["run"], one["run"])
    rows = {(r["section"], r["field"]): r for r in data["rows"]}
    assert rows[("data breast_cancer", "rows")] == {"section": "data breast_cancer", "field": "rows",
                                                    "a": 469, "b": 350, "changed": True}

    changed = invoke(two_cycles, "diff", "breast_cancer_model", "--changed").output
    assert " columns " not in changed and " hexsha " in changed


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_impact_table_and_json(two_cycles):
    one, two = two_cycles["cycles"]
    result = invoke(two_cycles, "impact", "breast_cancer")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1 model version(s), 1 prediction job(s), 1 deployed now" in out
    model_row = next(line for line in out.splitlines() if " model_version " in line)
    assert two["run"][:10] in model_row and "yes" in model_row
    assert "deployed now = newest finished version" in out

    result = invoke(two_cycles, "impact", "breast_cancer", "--run", one["dv"].run.info.run_id, "--format", "json")
    data = json.loads(result.output)
    assert [m["run_id"] for m in data["model_versions"]] == [one["run"]]
    assert data["deployed_now"] == []
    assert [p["run_id"] for p in data["prediction_jobs"]] == [one["pj_run"]]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_version_before_is_one_line_error(two_cycles):
    one, _ = two_cycles["cycles"]
    result = invoke(two_cycles, "diff", "breast_cancer_model", "--run", one["run"])
    assert result.exit_code == 1
    assert "has no version before run" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hostile_store_text_is_inert(hostile_cycles):
    for args in (("diff", "breast_cancer_model"), ("diff", "breast_cancer_model", "--format", "json"),
                 ("impact", "breast_cancer"), ("impact", "breast_cancer", "--format", "json")):
        result = invoke(hostile_cycles, *args)
        assert result.exit_code == 0, result.output
        for raw in ("\x1b", "\x07", "\x9b"):
            assert raw not in result.output, (args, raw)
    table = invoke(hostile_cycles, "diff", "breast_cancer_model").output
    assert "[bold red]boom[/bold red]" in table  # markup shown as text, not applied
    data = json.loads(invoke(hostile_cycles, "diff", "breast_cancer_model", "--format", "json").output)
    note = next(r for r in data["rows"] if r["field"] == "note")
    assert note["b"] == HOSTILE  # JSON keeps the exact value, escaped


@pytest.mark.parametrize("command", ["diff", "impact"])
def test_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    assert command in CliRunner().invoke(cli, ["--help"]).output
