"""A hostile store: tag values, run and experiment names, resource ids and artifact names holding
terminal escape sequences, rich markup and bidi overrides. Every command prints them as text."""

from __future__ import annotations

import re
import uuid

import pytest
from click.testing import CliRunner

from lolpop.cli.main import cli

# An OSC 8 hyperlink, rich markup (a closing tag with nothing to close, a link, a style), clear
# screen, carriage return, bell, a C1 CSI, a right-to-left override.
EVIL = ("\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\ [/] [link=http://evil.example/]spoof[/link] "
        "[bold]b[/bold] \x1b[2J\r\x07\x9b31m \u202egnp.exe\u202c end")
# Anything a terminal would obey: C0 controls but the newline, DEL, C1, bidi controls.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def assert_shown_as_text(output: str) -> None:
    bad = UNSAFE.search(output)
    assert bad is None, f"control character {bad.group()!r} reached the output: {output[max(0, bad.start() - 60):bad.end() + 60]!r}"
    # rich did not read the markup: it is printed literally...
    assert "[link=http://evil.example/]spoof[/link]" in output and "[bold]b[/bold]" in output
    # ...and the escape sequences are visible as escapes.
    assert "\\x1b]8;;http://evil.example/" in output and "\\u202e" in output and "\\r" in output


@pytest.fixture
def hostile(make_tracker, client, tmp_path):
    name = f"exp {EVIL} {uuid.uuid4().hex[:8]}"
    tracker = make_tracker(mlflow_experiment_name=name)
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.log_metadata(dv, "note", EVIL)
    tracker.log_metadata(dv, "evil_dict", {"k": EVIL})
    report = tmp_path / f"report {EVIL.replace('/', '_')}.txt"
    report.write_text("x")
    tracker.log_artifact(dv, "evil", str(report))
    tracker.create_resource("victim", type="dataset")
    run_id = tracker.run.info.run_id
    tracker.stop()
    # What a hostile writer can put in the store directly: a parent id (drawn as a node), a run name.
    client.set_tag(run_id, "victim.parent_id", EVIL)
    client.set_tag(run_id, "victim.parent_run_id", run_id)
    client.set_tag(run_id, "mlflow.runName", EVIL)
    return {"uri": tracker.url, "experiment": name, "run": run_id}


def run(store, *args):
    return CliRunner().invoke(cli, ["--tracking-uri", store["uri"], "--experiment", store["experiment"], *args],
                              env={"COLUMNS": "400"}, catch_exceptions=False)


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_every_command_prints_stored_text_as_text(hostile):
    show = run(hostile, "show", "customers")
    assert show.exit_code == 0, show.output
    assert_shown_as_text(show.output)
    assert "evil_dict" in show.output and "report " in show.output  # the JSON value, the artifact name

    history = run(hostile, "history", "customers")  # values cut to 40 characters
    assert history.exit_code == 0, history.output
    assert not UNSAFE.search(history.output) and "note=\\x1b]8;;http://evil" in history.output

    tree = run(hostile, "lineage", "victim", "--direction", "upstream")
    assert tree.exit_code == 0, tree.output
    assert_shown_as_text(tree.output)
    assert "[parent]" in tree.output
    for fmt in ("mermaid", "dot", "json"):
        result = run(hostile, "lineage", "victim", "--direction", "upstream", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert not UNSAFE.search(result.output), fmt
        # a label cannot start a line of its own (Mermaid `click` directives, DOT statements)
        assert not any(line.lstrip().startswith(("click", "[link")) for line in result.output.splitlines())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_error_messages_print_store_and_user_text_as_text(hostile):
    # Error messages echo names: an experiment name, a resource id.
    result = CliRunner().invoke(cli, ["--tracking-uri", hostile["uri"], "--experiment", f"nope {EVIL}",
                                      "history", "x"], env={"COLUMNS": "400"}, catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no MLflow experiment named"), result.output
    assert_shown_as_text(result.output)
    assert "Traceback" not in result.output

    result = run(hostile, "show", f"victim{EVIL}")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert not UNSAFE.search(result.output)


def test_quickstart_summary_prints_store_text_as_text():
    from rich.console import Console

    from lolpop.cli.quickstart import print_summary
    from lolpop.quickstart import CycleSummary, QuickstartSummary

    cycle = CycleSummary(cycle=1, dataset_run_id="a" * 32, hexsha=EVIL, rows=3, winner=EVIL, accuracy=0.5,
                         experiment_id=EVIL, model_version_run_id="b" * 32, status=EVIL,
                         previous_deployed_run_id=None, prediction_run_id="c" * 32, predictions=1)
    summary = QuickstartSummary(workdir="w", tracking_uri="http://user:s3cret@127.0.0.1:1",
                                experiment=EVIL, cycles=[cycle], lineage_artifact=EVIL)
    out = Console(record=True, width=400, color_system=None)
    print_summary(out, summary)
    text = out.export_text()
    assert not UNSAFE.search(text)
    assert "[link=http://evil.example/]spoof[/link]" in text and "\\x1b]8;;" in text
    assert "s3cret" not in text and "***@127.0.0.1" in text
