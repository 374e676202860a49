"""Security against ``mlflow server --app-name basic-auth`` (``mlflow[auth]``).

* Correct credentials from ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` work.
* Wrong or missing ones raise :class:`AuthenticationError` with a clear message.
* The password never shows in logs, exception messages (the whole cause chain) or ``repr``.

That artifact and resource ids never write outside their folders is in the bad-input matrix
(``tests/component/metadata_tracker/test_bad_input.py``), on every backend.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from pathlib import Path

import pytest

from lolpop.components import MLFlowMetadataTracker
from mlflow import MlflowClient

from lolpop.exceptions import AuthenticationError, TrackerUnavailableError
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
