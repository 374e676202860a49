"""Security against ``mlflow server --app-name basic-auth`` (``mlflow[auth]``).

* Correct credentials from ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` work.
* Wrong or missing ones raise :class:`AuthenticationError` with a clear message.
* The password never shows in logs, exception messages (the whole cause chain) or ``repr``.
* Permissions (real users, real grants): a request the server refuses for lack of a permission
  (HTTP 403) is a :class:`PermissionDeniedError` naming the experiment, run or registered model
  refused and the user, never "credentials rejected" (HTTP 401 stays :class:`AuthenticationError`),
  in the tracker and in every reader; a status the registry refuses writes nothing, so lolpop's
  answers and ``models:/<id>@deployed`` never disagree.

That artifact and resource ids never write outside their folders is in the bad-input matrix
(``tests/component/metadata_tracker/test_bad_input.py``), on every backend.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lolpop.components import MLFlowMetadataTracker, SklearnModelTrainer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import AuthenticationError, PermissionDeniedError, TrackerUnavailableError
from lolpop.layout import index, keys
from tests.support.data import iris_splits
from tests.support.mlflow_server import free_port


def _conf(url: str) -> dict:
    return {"mlflow_tracking_uri": url, "mlflow_experiment_name": f"auth-{uuid.uuid4().hex[:10]}",
            "mlflow_request_timeout": 10, "mlflow_max_retries": 2}


def _chain_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _cycle(tracker: MLFlowMetadataTracker, tmp_path: Path) -> None:
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.register_vc_resource(dv, {"uri": "data/train.csv", "hexsha": "abc123"})
    report = tmp_path / "profile.html"
    report.write_text("<html>ok</html>")
    tracker.log_data_profile(dv, str(report))
    mv = tracker.create_resource("model", type="model_version")
    exp = tracker.create_resource("xgb", type="experiment", parent=mv)
    tracker.log_metadata(exp, "params", {"depth": 3})
    tracker.clean_resource(exp, type="experiment")
    assert Path(tracker.get_data_profile(dv, "train_data_profile")).read_text() == "<html>ok</html>"
    assert tracker.get_metadata(exp, "params") == {"depth": 3}


def test_correct_credentials_from_env_work(basic_auth_server, monkeypatch, tmp_path, debug_logs):
    server, admin, password = basic_auth_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    tracker = MLFlowMetadataTracker(conf=_conf(server.url))
    try:
        _cycle(tracker, tmp_path)
        assert password not in repr(tracker)
        assert password not in str(vars(tracker))
    finally:
        tracker.stop()
    assert password not in debug_logs.text
    assert password not in server.log_path.read_text(errors="replace")  # nor in the server's log


@pytest.mark.parametrize("creds", ["wrong-password", "unknown-user", "none"])
def test_wrong_or_missing_credentials_are_a_clear_authentication_error(basic_auth_server, monkeypatch, creds,
                                                                       debug_logs):
    server, admin, password = basic_auth_server
    wrong = f"wrong-{uuid.uuid4().hex}"
    if creds == "none":
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin if creds == "wrong-password" else "mallory")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", wrong if creds == "wrong-password" else password)
    with pytest.raises(AuthenticationError) as info:
        MLFlowMetadataTracker(conf=_conf(server.url))
    message = str(info.value)
    assert "credentials" in message and "401" in message
    text = _chain_text(info.value)
    for secret in (password, wrong):
        assert secret not in text
        assert secret not in debug_logs.text


def test_credentials_in_the_uri_never_leak(basic_auth_server, monkeypatch, tmp_path, debug_logs):
    server, admin, password = basic_auth_server
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    host = server.url.split("://", 1)[1]
    wrong = f"wrong-{uuid.uuid4().hex}"
    with pytest.raises(AuthenticationError) as info:
        MLFlowMetadataTracker(conf=_conf(f"http://{admin}:{wrong}@{host}"))
    assert wrong not in _chain_text(info.value)

    tracker = MLFlowMetadataTracker(conf=_conf(f"http://{admin}:{password}@{host}"))
    try:
        _cycle(tracker, tmp_path)
        assert password not in repr(tracker)
        assert f"http://***@{host}" in repr(tracker)
    finally:
        tracker.stop()
    assert password not in debug_logs.text
    assert wrong not in debug_logs.text


def test_a_server_lost_later_does_not_leak_uri_credentials(basic_auth_server, monkeypatch, debug_logs):
    """MLflow's own transport errors embed the request URL (userinfo included); lolpop redacts
    the whole exception chain."""
    server, admin, password = basic_auth_server
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    host = server.url.split("://", 1)[1]
    tracker = MLFlowMetadataTracker(conf=_conf(f"http://{admin}:{password}@{host}"))
    dv = tracker.create_resource("train", type="dataset_version")
    # The server "moves away": a real client to a closed port, MLflow retries off for this test.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    good = tracker._store.client  # the run store is what sends requests
    tracker._store.client = MlflowClient(tracking_uri=f"http://{admin}:{password}@127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TrackerUnavailableError) as info:
            tracker.log_metadata(dv, "rows", 1)
        assert "***@127.0.0.1" in str(info.value)
        assert password not in _chain_text(info.value)
    finally:
        tracker._store.client = good
        tracker.stop()
    assert password not in debug_logs.text


def test_a_uri_password_holding_at_signs_works_and_never_leaks(basic_auth_server, monkeypatch, tmp_path,
                                                               debug_logs):
    """requests splits a URI's userinfo at the last "@" (as urllib does), so such a password
    works; lolpop's redaction splits it the same way, so no part of it shows anywhere."""
    from mlflow.server.auth.client import AuthServiceClient

    server, admin, password = basic_auth_server
    def at_password() -> str:  # three distinct pieces joined by "@"; none may show anywhere
        return "@".join(uuid.uuid4().hex[:10] for _ in range(3))

    user, secret = f"bob-{uuid.uuid4().hex[:6]}", at_password()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    AuthServiceClient(server.url).create_user(user, secret)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    host = server.url.split("://", 1)[1]

    tracker = MLFlowMetadataTracker(conf=_conf(f"http://{user}:{secret}@{host}"))
    try:
        _cycle(tracker, tmp_path)
        assert repr(tracker).count(f"http://***@{host}") == 1
        text = repr(tracker)
    finally:
        tracker.stop()
    wrong = at_password()
    with pytest.raises(AuthenticationError) as info:
        MLFlowMetadataTracker(conf=_conf(f"http://{user}:{wrong}@{host}"))
    text += _chain_text(info.value) + debug_logs.text
    for piece in secret.split("@") + wrong.split("@"):
        assert piece not in text, piece


# ---------------------------------------------------------------------------------------------
# permissions: a team, a colleague with EDIT on the experiment only, a reader with READ only
# ---------------------------------------------------------------------------------------------
@dataclass
class People:
    url: str
    names: dict[str, str]
    auth: Any  # mlflow.server.auth.client.AuthServiceClient, called as the admin
    as_user: Callable[[str], Any]


@pytest.fixture
def people(basic_auth_server, monkeypatch) -> Iterator[People]:
    """Fresh users ``team``, ``colleague`` and ``reader`` on the auth server, created by the admin
    through MLflow's auth REST API. MLflow clients read the credentials at each request, so a
    block ``with people.as_user("team"):`` acts as that user; outside one, as the admin."""
    from mlflow.server import get_app_client

    server, admin, password = basic_auth_server

    def login(user: str, secret: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secret)

    login(admin, password)
    auth = get_app_client("basic-auth", tracking_uri=server.url)
    suffix, secrets = uuid.uuid4().hex[:8], {}
    for role in ("team", "colleague", "reader"):
        secrets[role] = (f"{role}-{suffix}", f"pw-{uuid.uuid4().hex}")
        auth.create_user(*secrets[role])

    @contextmanager
    def as_user(role: str) -> Iterator[str]:
        login(*secrets[role])
        try:
            yield secrets[role][0]
        finally:
            login(admin, password)

    yield People(server.url, {role: user for role, (user, _) in secrets.items()}, auth, as_user)


def _winner(tracker: MLFlowMetadataTracker, model_id: str, c: float) -> Resource:
    """A model version of ``model_id`` whose winning experiment saved a model (registrable)."""
    mv = tracker.create_resource(model_id, type="model_version")
    conf = {"estimator": "LogisticRegression", "training_params": {"C": c, "max_iter": 500}}
    SklearnModelTrainer(conf=conf, metadata_tracker=tracker).build_model(iris_splits(), mv, winner=True)
    return mv


def test_a_colleague_without_rights_on_the_registered_model_cannot_deploy_and_nothing_disagrees(people):
    """Issue 18, item 10: the team owns the experiment and the registered model; a colleague with
    EDIT on the experiment and the default READ on the model sets DEPLOYED on their version. The
    registry refuses the new version, so the status is refused as well, by name, and nothing of it
    is written: lolpop's look-ups, index and history, and ``models:/<id>@deployed``, all still
    say the team's version; no LoggedModel is left PENDING or READY without a registry version."""
    conf, model_id = _conf(people.url), f"churn_{uuid.uuid4().hex[:8]}"
    with people.as_user("team"), MLFlowMetadataTracker(conf=conf) as team:
        team_mv = _winner(team, model_id, 0.5)
        team.log_tag(team_mv, "status", "DEPLOYED")
        experiment_id, team_run = team.experiment_id, team_mv.run.info.run_id
    people.auth.grant_user_permission(people.names["colleague"], "experiment", experiment_id, "EDIT")

    with people.as_user("colleague") as colleague, MLFlowMetadataTracker(conf=conf) as tracker:
        mv = _winner(tracker, model_id, 2.0)
        with pytest.raises(PermissionDeniedError) as info:
            tracker.log_tag(mv, "status", "DEPLOYED")
        err = info.value
        assert (err.resource_kind, err.resource_name, err.user) == ("registered_model", model_id, colleague)
        assert err.endpoint.endswith("/model-versions/create") and err.registered_model == model_id
        assert f"registered model {model_id!r}" in str(err) and "'DEPLOYED'" in str(err)
        assert "rejected the credentials" not in str(err) and "MLFLOW_TRACKING_PASSWORD" not in str(err)
        # Nothing of the status, and the tracker goes on (the same refusal again: nothing half
        # registered is taken for a registration).
        assert tracker.get_tag(mv, "status") is None
        assert [(e.run_id, e.new_status) for e in tracker.get_status_history(model_id)] == [(team_run, "DEPLOYED")]
        tracker.log_metadata(mv, "note", "asked the team for EDIT on the registered model")
        with pytest.raises(PermissionDeniedError):
            tracker.update_resource(mv, {"status": "DEPLOYED"})
        colleague_run = mv.run.info.run_id

    admin = MlflowClient(people.url)
    tags = admin.get_run(colleague_run).data.tags
    assert f"{model_id}.status" not in tags and not [k for k in tags if k.startswith("_lolpop.status_event.")]
    assert tags[f"{model_id}.note"] == "asked the team for EDIT on the registered model"
    deployed = admin.get_model_version_by_alias(model_id, "deployed")
    assert deployed.tags[keys.REGISTRY_WORKFLOW_RUN_TAG] == team_run
    versions = admin.search_model_versions(f"name = '{model_id}'")
    assert [v.version for v in versions] == [deployed.version]
    models = admin.search_logged_models([experiment_id])
    status = {m.artifact_location: str(getattr(m.status, "value", m.status)).rsplit(".", 1)[-1] for m in models}
    assert "PENDING" not in status.values()
    assert {m for m, s in status.items() if s == "READY"} == {v.source for v in versions}  # the team's only
    # The version index names the team's run as the deployed one.
    index_run = admin.get_run(index.index_run_id(admin.get_experiment(experiment_id).tags))
    found = index.pointer(index.DEPLOYED, model_id, index_run.data.metrics, index.metric_steps(index_run))
    assert found is not None and found[0] == team_run
    # And lolpop's answer from a later workflow run: the team's version.
    with people.as_user("team"), MLFlowMetadataTracker(conf=conf) as later:
        current = later.get_currently_deployed_model_version(later.create_resource(model_id, type="model_version"))
        assert current is not None and current.run.info.run_id == team_run


def test_a_status_write_refused_after_the_alias_moved_moves_the_alias_back(people):
    """MANAGE on the registered model but READ on the experiment: the aliases move (the registry
    work comes first), then the status write to the team's run is refused; the aliases are moved
    back, so registry and status still agree, and the refusal names the run."""
    conf, model_id = _conf(people.url), f"churn_{uuid.uuid4().hex[:8]}"
    with people.as_user("team"), MLFlowMetadataTracker(conf=conf) as first:
        first.log_tag(_winner(first, model_id, 0.5), "status", "DEPLOYED")
    with people.as_user("team"), MLFlowMetadataTracker(conf=conf) as second:
        mv = _winner(second, model_id, 2.0)
        second.log_tag(mv, "status", "PROMOTED")
        run_id = mv.run.info.run_id
    admin = MlflowClient(people.url)

    def aliases() -> dict[str, str]:
        return {alias: str(v) for alias, v in admin.get_registered_model(model_id).aliases.items()}

    assert aliases() == {"deployed": "1", "promoted": "2"}
    people.auth.grant_user_permission(people.names["colleague"], "registered_model", model_id, "MANAGE")
    with people.as_user("colleague"), MLFlowMetadataTracker(conf=_conf(people.url)) as own:
        with pytest.raises(PermissionDeniedError) as info:
            own.log_tag(Resource(model_id, own.client.get_run(run_id)), "status", "DEPLOYED")
        assert (info.value.resource_kind, info.value.resource_name) == ("run", run_id)
    assert aliases() == {"deployed": "1", "promoted": "2"}
    tags = admin.get_run(run_id).data.tags
    assert tags[f"{model_id}.status"] == "PROMOTED"
    assert len([k for k in tags if k.startswith("_lolpop.status_event.")]) == 1


def test_a_read_only_colleague_writing_to_the_experiment_is_refused_by_name(people):
    """READ (MLflow's default) on the team's experiment: opening a workflow run there, or writing
    to one of its runs, is a PermissionDeniedError naming the experiment / run and the user;
    the credentials were fine, so it is not an AuthenticationError. Nothing is written."""
    conf = _conf(people.url)
    with people.as_user("team"), MLFlowMetadataTracker(conf=conf) as team:
        team_mv = team.create_resource("churn", type="model_version")
        team.log_metadata(team_mv, "rows", 1)
        experiment_id, team_run = team.experiment_id, team_mv.run.info.run_id

    with people.as_user("reader") as reader:
        with pytest.raises(PermissionDeniedError) as info:
            MLFlowMetadataTracker(conf=conf)
        err = info.value
        assert not isinstance(err, AuthenticationError)
        assert (err.resource_kind, err.resource_name, err.experiment_id, err.user) == \
            ("experiment", conf["mlflow_experiment_name"], experiment_id, reader)
        assert err.endpoint.endswith("/runs/create")
        assert f"experiment {conf['mlflow_experiment_name']!r}" in str(err) and reader in str(err)
        assert "rejected the credentials" not in str(err)
        with MLFlowMetadataTracker(conf=_conf(people.url)) as own:  # the reader's own experiment
            theirs = Resource("churn", own.client.get_run(team_run))
            with pytest.raises(PermissionDeniedError) as info:
                own.log_metadata(theirs, "rows", 2)
            assert (info.value.resource_kind, info.value.resource_name, info.value.experiment_id) == \
                ("run", team_run, experiment_id)
            assert info.value.endpoint.endswith("/runs/log-batch") and team_run in str(info.value)
            mine = own.create_resource("mine", type="dataset_version")  # the tracker goes on
            own.log_metadata(mine, "rows", 3)
            assert own.get_metadata(mine, "rows") == 3
    assert MlflowClient(people.url).get_run(team_run).data.tags["churn.rows"] == "1"


def test_401_and_403_map_alike_in_the_tracker_and_every_reader(people, monkeypatch):
    """The one mapping (lolpop.layout.access), through a real server: wrong credentials (401) are
    an AuthenticationError, a missing permission (403) a PermissionDeniedError naming the user —
    in the tracker's ``translate``, the REST reader and the MlflowClient reader alike."""
    from lolpop.store._connection import translate
    from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter
    from lolpop.store.clients.rest import RestClient

    url = people.url
    closed = MlflowClient(url).create_experiment(f"closed-{uuid.uuid4().hex[:8]}")  # as the admin
    people.auth.grant_user_permission(people.names["reader"], "experiment", closed, "DENY")
    readers = {"rest": lambda: RestClient(url, timeout=30), "mlflow": lambda: MlflowClientAdapter.open(url)}

    with people.as_user("reader") as reader:
        with pytest.raises(MlflowException) as raw:
            MlflowClient(url).create_run(closed)
        err = translate(raw.value, "create_run", url)
        assert type(err) is PermissionDeniedError
        assert (err.resource_kind, err.user) == ("experiment", reader)  # the kind read off the endpoint
        assert err.endpoint.endswith("/runs/create") and "rejected the credentials" not in str(err)
        for name, make in readers.items():
            with pytest.raises(PermissionDeniedError) as info:
                make().get_experiment(closed)
            assert info.value.user == reader and info.value.resource_kind == "experiment", name
            assert "/experiments/get" in info.value.endpoint and "rejected the credentials" not in str(info.value)

        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", f"wrong-{uuid.uuid4().hex}")
        with pytest.raises(MlflowException) as raw:
            MlflowClient(url).search_experiments()
        err = translate(raw.value, "search_experiments", url)
        assert type(err) is AuthenticationError and "rejected the credentials" in str(err) and "401" in str(err)
        for name, make in readers.items():
            with pytest.raises(AuthenticationError) as info:
                make().search_experiments()
            assert not isinstance(info.value, PermissionDeniedError), name
            assert "rejected the credentials" in str(info.value), name


def test_events_and_runs_record_the_mlflow_user_not_the_os_login(people):
    """Issue 22: "who" is the MLflow user requests authenticate as — for status events,
    quarantine events (tracker and CLI) and the runs lolpop creates (``mlflow.user``) — never
    the OS login the two users share."""
    import getpass

    from click.testing import CliRunner

    from lolpop.cli.main import cli
    from lolpop.layout import quarantine

    conf = {**_conf(people.url), "mlflow_registry": False}
    with people.as_user("team") as team, MLFlowMetadataTracker(conf=conf) as first:
        dv = first.create_resource("train", type="dataset_version")
        mv = first.create_resource("model", type="model_version")
        first.build_model_lineage(mv, [dv])
        first.log_tag(mv, "status", "PROMOTED")
        first.quarantine(dv, "labels shifted")
        experiment_id, run_id = first.experiment_id, first.run.info.run_id
        exp_run = first.create_resource("xgb", type="experiment", parent=mv).run.info.run_id
    people.auth.grant_user_permission(people.names["colleague"], "experiment", experiment_id, "EDIT")
    with people.as_user("colleague") as colleague, MLFlowMetadataTracker(conf=conf) as second:
        second.lift_quarantine(second.get_resource("train", type="dataset_version"), "relabelled")
        second.log_tag(second.get_resource("model", type="model_version"), "status", "DEPLOYED")
        second_run = second.run.info.run_id
        history = [(e.new_status, e.user) for e in second.get_status_history("model")]
    with people.as_user("colleague"):
        result = CliRunner().invoke(cli, ["--tracking-uri", people.url, "quarantine", "train", "--run", run_id,
                                          "--reason", "again"])
        assert result.exit_code == 0, result.output
        client = MlflowClient(people.url)
        tags = client.get_run(run_id).data.tags
        users = {r: client.get_run(r).data.tags.get("mlflow.user") for r in (run_id, exp_run, second_run)}
    assert team != colleague and getpass.getuser() not in (team, colleague)
    assert history == [("PROMOTED", team), ("DEPLOYED", colleague)]
    assert [(e.action, e.user) for e in quarantine.events_in(tags, run_id, "train")] == \
        [("quarantine", team), ("lift", colleague), ("quarantine", colleague)]
    assert users == {run_id: team, exp_run: team, second_run: colleague}
