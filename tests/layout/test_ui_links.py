"""Links into the MLflow UI: every one opens the Model-training view and no id can change its target."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from lolpop.layout import ui_links

ML = "workflowType=machine_learning"
BUNDLE = Path(__import__("mlflow").__file__).parent / "server" / "js" / "build" / "static" / "js"


def _query(route: str) -> dict[str, list[str]]:
    # MLflow routes in the hash: the query the UI reads is the one after the hash path's "?".
    return parse_qs(urlsplit(route.lstrip("#")).query)


def test_every_route_selects_the_model_training_view():
    for route in (ui_links.experiment_route("7"), ui_links.runs_route("7"), ui_links.run_route("7", "a" * 32),
                  ui_links.run_route("7", "a" * 32, "m/lineage/lineage.html"),
                  ui_links.model_version_route("churn", 3)):
        assert route.startswith("#/") and _query(route) == {"workflowType": ["machine_learning"]}
    assert ui_links.run_route("7", "r", "m/lineage/lineage.html") == \
        f"#/experiments/7/runs/r/artifacts/m/lineage/lineage.html?{ML}"


def test_the_parameter_is_the_one_mlflow_s_ui_bundle_reads():
    """The UI's WorkflowTypeProvider reads searchParams.get("workflowType") and knows "machine_learning"."""
    if not BUNDLE.is_dir():
        pytest.skip("this MLflow has no UI bundle")
    text = "".join(p.read_text(errors="replace") for p in BUNDLE.glob("main.*.js"))
    assert f'get("{ui_links.WORKFLOW_TYPE_PARAM}")' in text
    assert f'MACHINE_LEARNING="{ui_links.MODEL_TRAINING}"' in text


@pytest.mark.parametrize("hostile", [
    "x?workflowType=genai", "../../models/y", "a#/b", 'q" onmouseover="alert(1)', "a) [evil](http://e.x",
    "a&workflowType=genai", "<script>", "a b\nc",
])
def test_hostile_ids_are_encoded_and_cannot_change_the_target(hostile):
    for route in (ui_links.experiment_route(hostile), ui_links.run_route(hostile, hostile, hostile + "/f"),
                  ui_links.model_version_route(hostile, hostile)):
        assert _query(route) == {"workflowType": ["machine_learning"]}, route
        path = urlsplit(route.lstrip("#")).path
        # the id is one path segment each time (artifact paths keep their own "/")
        assert not any(c in path for c in "?#\"'<>() \n&")
        assert hostile.replace("/", "") in unquote(path).replace("/", "")


def test_ui_base_of_a_server_drops_credentials_and_keeps_a_prefix():
    assert ui_links.ui_base("https://alice:p@ss@mlflow.example.com/prefix/") == "https://mlflow.example.com/prefix"
    assert ui_links.ui_base("http://127.0.0.1:5077") == "http://127.0.0.1:5077"
    assert ui_links.ui_base("sqlite:///mlflow.db") == ui_links.DEFAULT_UI
    assert ui_links.url(ui_links.experiment_route("3"), "http://h:1/p/") == f"http://h:1/p/#/experiments/3?{ML}"
