"""Count what load/fault workers logged (their JSON manifests) against the tracking store."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

WORKER = Path(__file__).with_name("_load_worker.py")
REPO = Path(__file__).resolve().parents[2]


def worker_cmd(uri: str, experiment: str, proc: int, cycles: int, manifest: Path, **flags: Any) -> list[str]:
    cmd = [sys.executable, str(WORKER), "--uri", uri, "--experiment", experiment, "--proc", str(proc),
           "--cycles", str(cycles), "--manifest", str(manifest)]
    for key, value in flags.items():
        if value is True:
            cmd.append(f"--{key}")
        elif value is not None:
            cmd += [f"--{key}", str(value)]
    return cmd


def worker_env() -> dict[str, str]:
    """The worker imports this checkout's ``lolpop`` (src layout) first."""
    import os

    paths = [str(REPO / "src"), str(REPO)]
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": ":".join(paths + ([old] if old else []))}


def start_worker(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=worker_env(), cwd=log.parent)


@dataclass
class Count:
    written: dict[str, int] = field(default_factory=lambda: {"runs": 0, "tags": 0, "params": 0, "artifacts": 0})
    found: dict[str, int] = field(default_factory=lambda: {"runs": 0, "tags": 0, "params": 0, "artifacts": 0})
    problems: list[str] = field(default_factory=list)

    def total(self, which: str) -> int:
        return sum(getattr(self, which).values())


def verify_runs(client: MlflowClient, runs: dict[str, dict[str, Any]], count: Count,
                exact_params: bool = True, fetched: dict[str, Any] | None = None,
                read_artifact: Any = None) -> None:
    """Check every tag, param and artifact a manifest lists, with its value, on the store.

    ``fetched``: runs already read (``search_runs`` returns tags and params, far fewer requests
    than one ``get_run`` each). ``read_artifact(run_id, path) -> text``: read artifacts from the
    artifact store directly (default: download through the tracking server).
    """
    fetched = fetched or {}
    for run_id, want in runs.items():
        count.written["runs"] += 1
        count.written["tags"] += len(want["tags"])
        count.written["params"] += len(want["params"])
        count.written["artifacts"] += len(want["artifacts"])
        run = fetched.get(run_id) or client.get_run(run_id)
        count.found["runs"] += 1
        for kind, stored in (("tags", run.data.tags), ("params", run.data.params)):
            for key, value in want[kind].items():
                got = stored.get(key)
                if got == value:
                    count.found[kind] += 1
                else:
                    count.problems.append(f"run {run_id} {kind[:-1]} {key!r}: want {value!r}, got {got!r}")
        if exact_params and set(run.data.params) != set(want["params"]):
            count.problems.append(f"run {run_id}: params {sorted(run.data.params)} != {sorted(want['params'])}")
        if want["artifacts"] and read_artifact is not None:
            for path, content in want["artifacts"].items():
                try:
                    got = read_artifact(run_id, path)
                except Exception as exc:  # noqa: BLE001 - reported, counted as missing
                    got = f"<{type(exc).__name__}: {exc}>"
                if got == content:
                    count.found["artifacts"] += 1
                else:
                    count.problems.append(f"run {run_id} artifact {path!r}: want {content!r}, got {got!r:.200}")
        elif want["artifacts"]:
            with tempfile.TemporaryDirectory() as dst:
                for path, content in want["artifacts"].items():
                    try:
                        local = Path(client.download_artifacts(run_id, path, dst))
                        got = local.read_text(encoding="utf-8")
                    except Exception as exc:  # noqa: BLE001 - reported, counted as missing
                        got = f"<{type(exc).__name__}: {exc}>"
                    if got == content:
                        count.found["artifacts"] += 1
                    else:
                        count.problems.append(f"run {run_id} artifact {path!r}: want {content!r}, got {got!r:.200}")


def s3_reader(s3: Any, experiment_id: str) -> Any:
    """``read_artifact`` for the stack: the objects the server proxied into the moto bucket."""
    import boto3

    from tests.support.stack import AWS_ENV

    client = boto3.client("s3", endpoint_url=s3.url, region_name=AWS_ENV["AWS_DEFAULT_REGION"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    prefix = f"mlartifacts/{experiment_id}/"
    keys = set(s3.s3_objects(prefix))

    def read(run_id: str, path: str) -> str:
        key = f"{prefix}{run_id}/artifacts/{path}"
        if key not in keys:
            raise FileNotFoundError(key)
        return client.get_object(Bucket=s3.bucket, Key=key)["Body"].read().decode("utf-8")

    return read
