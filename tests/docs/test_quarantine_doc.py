"""docs/quarantine.md shows real output: every ``$ lolpop ...`` block in it is run again here on a
store built the same way, and the output must have the same shape (run ids, times and the user
name aside). ``LOLPOP_WRITE_DOCS=1`` rewrites the blocks with this run's output instead."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from lolpop.cli.main import cli
from lolpop.components import MLFlowMetadataTracker

DOC = Path(__file__).parents[2] / "docs" / "quarantine.md"
BLOCK = re.compile(r"```text\n\$ (lolpop [^\n]*)\n(.*?)```", re.S)
EXPERIMENT = "churn"


def build_store(uri: str) -> dict[str, str]:
    """The page's story: customers -> features (made from it) -> churn_model, deployed and predicting."""
    conf = {"mlflow_tracking_uri": uri, "mlflow_experiment_name": EXPERIMENT, "mlflow_registry": False}
    with MLFlowMetadataTracker(conf=conf) as t:
        customers = t.create_resource("customers", type="dataset_version")
        t.register_vc_resource(customers, {"hexsha": "4be3" + "0" * 36, "uri": "data/customers.csv"},
                               additional_metadata={"rows": 12000})
        features = t.create_resource("features", type="dataset_version", parent=customers)
        t.register_vc_resource(features, {"hexsha": "9f1c" + "0" * 36, "uri": "data/features.parquet"},
                               additional_metadata={"rows": 11890})
        mv = t.create_resource("churn_model", type="model_version")
        t.build_model_lineage(mv, [features])
        t.log_tag(mv, "status", "DEPLOYED")
    with MLFlowMetadataTracker(conf=conf) as t:
        t.create_resource("churn_model_predictions", type="prediction_job",
                          parent=t.get_resource("churn_model", type="model_version"), prediction_count=5000)
    return {"customers": customers.run.info.run_id}


def normalise(text: str, user: str) -> str:
    """Run ids, times and the user replaced; whitespace (line wrapping) collapsed."""
    text = " ".join(text.split())
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00)?( UTC)?", "TIME", text)
    text = re.sub(r"[0-9a-f]{32}", "RUN", text)
    text = re.sub(r"\b[0-9a-f]{8,10}\b", "RUN", text)
    text = text.replace(f'"{user}"', '"USER"').replace(f" {user} ", " USER ").replace(f"({user},", "(USER,")
    return text.strip()


def test_the_page_shows_what_the_commands_print(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ids = build_store(uri)
    page = DOC.read_text(encoding="utf-8")
    blocks = BLOCK.findall(page)
    assert len(blocks) >= 5, "docs/quarantine.md lost its examples"
    from lolpop.store.who import who

    user = who(uri)
    written = page
    for command, shown in blocks:
        actual = re.sub(r"[0-9a-f]{32}", ids["customers"], command)
        result = CliRunner().invoke(cli, ["--tracking-uri", uri, *shlex.split(actual)[1:]])
        assert result.exit_code == 0, (command, result.output)
        if os.environ.get("LOLPOP_WRITE_DOCS"):
            written = written.replace(f"$ {command}\n{shown}", f"$ {actual}\n{result.output}", 1)
            continue
        assert normalise(result.output, user) == normalise(shown, "root"), command
    if os.environ.get("LOLPOP_WRITE_DOCS"):
        DOC.write_text(written, encoding="utf-8")
