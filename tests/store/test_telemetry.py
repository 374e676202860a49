"""The ``lolpop`` command keeps MLflow's usage telemetry off in its process without writing
``os.environ`` (issue 19, item 1; :mod:`lolpop.store.telemetry`), and leaves a user's own choice
alone. (MLflow's own bookkeeping, e.g. unsetting its telemetry session id when its client is
dropped, is MLflow's; the settings that decide are never written.) Each case runs in a fresh interpreter whose environment has none of the variables MLflow
treats as "CI or testing" (under which it would never build its telemetry client at all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# MLflow's telemetry is disabled outright when one of these is set (mlflow.telemetry.utils).
_CI_MARKERS = {"PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "CIRCLECI", "GITLAB_CI", "JENKINS_URL", "TRAVIS",
               "TF_BUILD", "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "BUILDKITE", "TEAMCITY_VERSION",
               "CLOUD_RUN_EXECUTION", "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME", "RUNBOT_WORKER_ID",
               "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"}

_CHILD = r"""
import json, os, sys
events = []
sys.addaudithook(lambda event, args: events.append([event, str(args[0])]) if event in ("os.putenv", "os.unsetenv")
                 and any(k in str(args[0]) for k in ("DISABLE_TELEMETRY", "DO_NOT_TRACK")) else None)
order = sys.argv[1]
if order == "mlflow-first":
    import lolpop.store._run_store  # noqa: F401 - MLflow (and its telemetry client) loaded before the command
from click.testing import CliRunner
from lolpop.cli.main import cli
result = CliRunner().invoke(cli, ["show", "--help"])
import lolpop.store._run_store  # noqa: F401,E402 - what a command that writes imports
import mlflow.telemetry
print(json.dumps({"exit": result.exit_code, "client": mlflow.telemetry.get_telemetry_client() is not None,
                  "env": {k: os.environ.get(k) for k in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")},
                  "environment_changes": events}))
"""


def _child(order: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in _CI_MARKERS}
    base["PYTHONPATH"] = f"{ROOT / 'src'}"
    out = subprocess.run([sys.executable, "-c", _CHILD, order], env={**base, **env}, capture_output=True,
                         text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("order", ["command-first", "mlflow-first"])
def test_the_command_drops_mlflows_telemetry_client_without_touching_the_environment(order):
    seen = _child(order)
    assert seen["exit"] == 0
    assert seen["client"] is False  # MLflow records an event only through this client
    assert seen["env"] == {"MLFLOW_DISABLE_TELEMETRY": None, "DO_NOT_TRACK": None}
    assert seen["environment_changes"] == []


def test_a_users_own_setting_is_left_alone():
    seen = _child("command-first", MLFLOW_DISABLE_TELEMETRY="false")
    assert seen["client"] is True  # the user turned telemetry on: lolpop does not overrule them
    assert seen["env"]["MLFLOW_DISABLE_TELEMETRY"] == "false"
    assert seen["environment_changes"] == []
