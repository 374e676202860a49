"""Links into the MLflow UI: the one place lolpop builds them.

MLflow 3.17's UI has two views of an experiment, GenAI (traces) and Model training (runs), and
remembers the last one per browser, GenAI by default. Its ``WorkflowTypeProvider`` reads the query
parameter ``workflowType`` (``genai`` or ``machine_learning``) of the current route before that
browser setting, on every page (the sidebar is rendered by it too, and hides the Models entry in
GenAI view), so every link lolpop prints or writes carries ``?workflowType=machine_learning``. The
experiment tag ``mlflow.experimentKind`` (:data:`lolpop.layout.keys.MLFLOW_EXPERIMENT_KIND`) alone
does not change the landing page.

Routes are MLflow's hash routes (``#/experiments/<id>/runs/<run id>``), relative to the UI's base
URL; every id is percent-encoded, so an id read from a store cannot change a link's target, add a
query parameter or break out of an HTML attribute or a Markdown link.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

#: The query parameter and value that select the Model-training view (MLflow 3.17 UI bundle).
WORKFLOW_TYPE_PARAM = "workflowType"
MODEL_TRAINING = "machine_learning"
_QUERY = f"?{WORKFLOW_TYPE_PARAM}={MODEL_TRAINING}"
#: Where ``mlflow ui`` listens unless told otherwise.
DEFAULT_UI = "http://127.0.0.1:5000"


def _seg(value: object) -> str:
    # Nothing is safe: "/", "?", "#", "&", quotes and parentheses all get encoded.
    return quote(str(value), safe="")


def experiment_route(experiment_id: str) -> str:
    """The experiment's runs list in the Model-training view.

    Example:
        >>> experiment_route("1")
        '#/experiments/1?workflowType=machine_learning'
    """
    return f"#/experiments/{_seg(experiment_id)}{_QUERY}"


def runs_route(experiment_id: str, chart: bool = False) -> str:
    """The experiment's runs tab (its Chart view with ``chart``). The UI drops every query
    parameter but ``workflowType`` (and the time range) when it redirects the bare experiment
    route to a tab, so a view that needs one (``compareRunsMode``) links to the tab itself.

    Example:
        >>> runs_route("1", chart=True)
        '#/experiments/1/runs?workflowType=machine_learning&compareRunsMode=CHART'
    """
    return f"#/experiments/{_seg(experiment_id)}/runs{_QUERY}" + ("&compareRunsMode=CHART" if chart else "")


def run_route(experiment_id: str, run_id: str, artifact_path: str | None = None) -> str:
    """A run's page, or a file in its artifacts (``artifact_path``: folders joined by ``/``).

    Example:
        >>> run_route("1", "abc", "m/lineage.html")
        '#/experiments/1/runs/abc/artifacts/m/lineage.html?workflowType=machine_learning'
    """
    route = f"#/experiments/{_seg(experiment_id)}/runs/{_seg(run_id)}"
    if artifact_path:
        route += "/artifacts/" + "/".join(_seg(part) for part in artifact_path.split("/"))
    return route + _QUERY


def model_version_route(name: str, version: str | int) -> str:
    """A registered model version's page.

    Example:
        >>> model_version_route("churn model", 3)
        '#/models/churn%20model/versions/3?workflowType=machine_learning'
    """
    return f"#/models/{_seg(name)}/versions/{_seg(version)}{_QUERY}"


def ui_base(tracking_uri: str | None) -> str:
    """The UI's base URL for a tracking URI: the server itself (without credentials, path kept)
    for ``http(s)://``; :data:`DEFAULT_UI` (what ``mlflow ui`` serves) for any other store.

    Example:
        >>> ui_base("https://alice:secret@mlflow.example.com/prefix/")
        'https://mlflow.example.com/prefix'
    """
    if tracking_uri and tracking_uri.lower().startswith(("http://", "https://")):
        parts = urlsplit(tracking_uri)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return DEFAULT_UI


def url(route: str, base: str | None = DEFAULT_UI) -> str:
    """``route`` made absolute under the UI at ``base``.

    Example:
        >>> url(experiment_route("1"))
        'http://127.0.0.1:5000/#/experiments/1?workflowType=machine_learning'
    """
    return f"{(base or DEFAULT_UI).rstrip('/')}/{route}"
