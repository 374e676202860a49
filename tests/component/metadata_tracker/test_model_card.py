"""The registered version carries a signature and an input example inferred from the training data
(MLflow's serving enforces them), and a model card as its description; stored text on the card is
inert Markdown. On every backend."""

from __future__ import annotations

import re
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from lolpop.component._sklearn_io import load_sklearn
from lolpop.components import SklearnModelTrainer
from tests.support.data import IRIS_TRANSFORMER, iris_splits

RF_FT = {"estimator": "RandomForestClassifier", "training_params": {"n_estimators": 10, "random_state": 7},
         "feature_transformer": "SklearnFeatureTransformer", "feature_transformer_config": IRIS_TRANSFORMER}
LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}
ML = "?workflowType=machine_learning"
HOSTILE = ('`x` <img src=x onerror=alert(1)> [click](javascript:alert(2)) ![i](http://e.x/p.png)\n# pwned\n'
           '<script>alert(3)</script> *bold* | a | b |')


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


@pytest.fixture
def pyfunc_uris(monkeypatch, tracking_uri):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", tracking_uri)


def _registered(tracker, iris, conf, hexsha="ab" * 20, status="PROMOTED"):
    model_id = f"iris_{uuid.uuid4().hex[:8]}"
    dv = tracker.create_resource("iris_data", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": hexsha, "uri": "data/iris.csv"})
    mv = tracker.create_resource(model_id, type="model_version")
    _, exp = SklearnModelTrainer(conf=conf, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    tracker.build_model_lineage(mv, [dv])
    tracker.log_tag(mv, "status", status)
    return model_id, mv, dv, exp


@pytest.mark.parametrize("trainer_conf", [RF_FT, LOGREG], ids=["with_transformer", "plain"])
def test_the_registered_version_carries_a_signature_and_input_example_pyfunc_enforces(
        make_tracker, client, iris, pyfunc_uris, trainer_conf):
    tracker = make_tracker()
    model_id, *_ = _registered(tracker, iris, trainer_conf)
    served = mlflow.pyfunc.load_model(f"models:/{model_id}@promoted")
    X = iris["X_test"]
    # the raw training input's columns, as trained on (a transformer's input, not its output)
    assert served.metadata.get_input_schema().input_names() == list(X.columns)
    assert served.metadata.get_output_schema() is not None
    example = served.input_example
    assert isinstance(example, pd.DataFrame) and list(example.columns) == list(X.columns)
    pd.testing.assert_frame_equal(example.reset_index(drop=True), iris["X_train"].head(5).reset_index(drop=True),
                                  check_dtype=False)
    assert len(served.predict(example)) == 5
    # a bad payload is refused with a message naming what is wrong, before the estimator sees it
    with pytest.raises(MlflowException, match=r"missing inputs \['sepal length \(cm\)'\]"):
        served.predict(X.drop(columns=["sepal length (cm)"]))
    with pytest.raises(MlflowException, match="petal width"):
        served.predict(X.assign(**{"petal width (cm)": "wide"}))
    assert np.array_equal(served.predict(X), tracker.load_model(None, tracker.get_resource(
        model_id, type="model_version"), None).predict(X))
    # MLflow's scoring server (what `mlflow models serve` runs): a clean 400 naming the column
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    app = TestClient(scoring_server.init(served))
    good = app.post("/invocations", json={"dataframe_split": X.head(3).to_dict(orient="split")})
    assert good.status_code == 200 and len(good.json()["predictions"]) == 3
    bad = app.post("/invocations", json={"dataframe_split": X.head(3).drop(columns=["sepal length (cm)"])
                                         .to_dict(orient="split")})
    assert bad.status_code == 400 and "stack_trace" not in bad.json()
    assert "missing inputs ['sepal length (cm)']" in bad.json()["message"]


def test_the_input_example_does_not_weaken_lolpop_s_loader(make_tracker, client, iris, tmp_path):
    """The example is JSON data next to the model file; lolpop's loader reads the model file only,
    with its allow-list, and the experiment's saved model folder still loads with it."""
    tracker = make_tracker()
    _, _, _, exp = _registered(tracker, iris, LOGREG)
    folder = tracker.get_artifact(exp, "model")
    from pathlib import Path

    files = {p.name for p in Path(folder).iterdir()}
    assert {"input_example.json", "serving_input_example.json", "model.skops", "MLmodel"} <= files
    # an example rewritten into something hostile is still only data to lolpop
    (Path(folder) / "input_example.json").write_text('{"py/object": "os.system", "args": ["touch /tmp/x"]}')
    model = load_sklearn(folder)
    assert type(model).__name__ == "LogisticRegression"


def test_the_model_card_is_the_version_s_description_and_follows_status_changes(make_tracker, client, iris):
    tracker = make_tracker()
    model_id, mv, dv, exp = _registered(tracker, iris, LOGREG)
    exp_id, run_id = tracker.experiment_id, mv.run.info.run_id
    card = client.get_model_version(model_id, "1").description
    assert card.startswith(f"### Model card · `{model_id}`")
    assert f"- `iris_data` · hexsha `{'ab' * 20}`" in card
    assert f"[SklearnModelTrainer](#/experiments/{exp_id}/runs/{exp.run.info.run_id}{ML})" in card
    accuracy = client.get_run(exp.run.info.run_id).data.metrics["test_accuracy"]
    assert f"| test\\_accuracy | {accuracy:.4g} |" in card
    page = f"{model_id}/lineage/lineage.html"
    assert f"Lineage page: [`{page}`](#/experiments/{exp_id}/runs/{run_id}/artifacts/{page}{ML})" in card
    assert re.search(r"UTC: \*\*PROMOTED\*\* by \S+\n", card)
    # every link on the card opens the Model-training view
    links = re.findall(r"\]\((#/[^)]*)\)", card)
    assert len(links) == 3 and all(link.endswith(ML) for link in links)
    tracker.log_tag(mv, "status", "DEPLOYED")
    card = client.get_model_version(model_id, "1").description
    assert "PROMOTED → **DEPLOYED**" in card and card.index("**PROMOTED**") < card.index("**DEPLOYED**")


def test_hostile_stored_text_on_the_card_stays_text(make_tracker, client, iris):
    tracker = make_tracker()
    model_id, mv, *_ = _registered(tracker, iris, LOGREG, hexsha=HOSTILE, status=HOSTILE)
    card = client.get_model_version(model_id, "1").description
    import markdown_it

    html = markdown_it.MarkdownIt("commonmark").enable("table").render(card)
    # no HTML, image or link came from stored text: only lolpop's three links, no heading but the title
    assert "<img" not in html and "<script" not in html and 'href="javascript' not in html
    assert re.findall(r'<a href="([^"]+)"', html) == re.findall(r"\]\((#/[^)]*)\)", card)
    assert len(re.findall(r"<a href=", html)) == 3 and html.count("<h") == 1
    assert html.count("<em>") == 1 and "<strong>bold" not in html  # only lolpop's closing line
    # the text is all there, one line each time (the newline escaped)
    assert "onerror=alert(1)" in html and "\\n# pwned" in html.replace("\\\\n", "\\n")
