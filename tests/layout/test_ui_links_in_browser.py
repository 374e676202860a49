"""lolpop's links open MLflow 3.17's Model-training view in a real browser on a real ``mlflow server``;
the same page without ``workflowType`` opens the GenAI view (a fresh browser's default)."""

from __future__ import annotations

import uuid

from lolpop.components import MLFlowMetadataTracker
from lolpop.layout import ui_links
from tests.support.chromium import dump_dom

# The GenAI view's sidebar has an "Observability" section and the page opens on "Overview"; the
# Model-training view opens on the runs list (page title "Runs - Experiment <id> - MLflow").


def test_an_experiment_link_opens_the_model_training_view(mlflow_server, tmp_path):
    conf = {"mlflow_tracking_uri": mlflow_server.url, "mlflow_experiment_name": f"ui-{uuid.uuid4().hex[:8]}"}
    with MLFlowMetadataTracker(conf=conf) as tracker:
        tracker.create_resource("customers", type="dataset_version")
        experiment = tracker.experiment_id
    base = ui_links.ui_base(mlflow_server.url)
    ours = dump_dom(ui_links.url(ui_links.experiment_route(experiment), base),
                    user_data_dir=tmp_path / "a", wait_ms=15000)
    assert conf["mlflow_experiment_name"] in ours and f"<title>Runs - Experiment {experiment} - MLflow" in ours
    # the runs list itself: the workflow run, named <experiment>-<UTC start>
    assert "Observability" not in ours and f'{conf["mlflow_experiment_name"]}-20' in ours
    # the control: the same page without the parameter opens a fresh browser's default, GenAI
    bare = dump_dom(f"{base}/#/experiments/{experiment}", user_data_dir=tmp_path / "b", wait_ms=15000)
    assert "Observability" in bare and f"<title>Overview - Experiment {experiment} - MLflow" in bare
