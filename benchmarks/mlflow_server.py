"""The benchmarks' ``mlflow server``: one definition for the look-up, cycle and CLI benchmarks.
Stdlib only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``mlflow server`` (SQLite backend, 1 worker, no job runner) on loopback, in its own process
    group."""

    def __init__(self, db: Path, artifacts: Path, log_path: Path) -> None:
        self.port = free_port()
        artifacts.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
               "--artifacts-destination", artifacts.as_uri(), "--serve-artifacts",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        # No job runner: by default the server also starts MLflow's job runner (8 more processes
        # polling the store for GenAI scoring / trace archival jobs), which tracking never uses and
        # whose start-up and polling would load the machine while we time.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, cwd=db.parent)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({self.proc.returncode}); see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not come up; see {log_path}")

    def warm_up(self, experiment: str, n: int = 5) -> None:
        """A few cheap requests, so the first timed ones do not pay the server's lazy start-up."""
        for _ in range(n):
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/2.0/mlflow/experiments/get-by-name"
                                        f"?experiment_name={experiment}", timeout=60) as r:
                r.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
