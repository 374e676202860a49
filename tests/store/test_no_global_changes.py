"""No process-global changes (issue 18, item 9; DESIGN "How it talks to MLflow"): a library never
changes another component's environment, not even for the duration of one call. The MLflow
adapter bounds its requests through its own client instead of MLflow's environment variables."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

#: Places allowed to change ``os.environ``: none, not even the ``lolpop`` command (it keeps MLflow's
#: telemetry off through ``lolpop.store.telemetry``, tests/store/test_telemetry.py).
ALLOWED: set[tuple[str, str, str | None]] = set()

_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def environ_changes(tree: ast.AST) -> list[tuple[int, str, str | None]]:
    """``(line, how, key)`` of every statement that changes the process environment: assignment,
    ``del`` or augmented assignment of ``os.environ[...]`` (or ``environ`` imported from ``os``),
    rebinding ``os.environ``, a mutating method of it, ``os.putenv`` / ``os.unsetenv``."""
    os_names = {"os"}
    environ_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            environ_names |= {a.asname or a.name for a in node.names if a.name == "environ"}

    def is_environ(expr: ast.AST) -> bool:
        if isinstance(expr, ast.Attribute) and expr.attr == "environ":
            return isinstance(expr.value, ast.Name) and expr.value.id in os_names
        return isinstance(expr, ast.Name) and expr.id in environ_names

    def key(expr: ast.AST | None) -> str | None:
        return expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else None

    found = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and is_environ(target.value):
                found.append((node.lineno, type(node).__name__.lower(), key(target.slice)))
            elif is_environ(target):
                found.append((node.lineno, "rebind", None))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if func.attr in _MUTATORS and is_environ(func.value):
                found.append((node.lineno, func.attr, key(node.args[0]) if node.args else None))
            elif func.attr in ("putenv", "unsetenv") and isinstance(func.value, ast.Name) \
                    and func.value.id in os_names:
                found.append((node.lineno, func.attr, key(node.args[0]) if node.args else None))
    return found


def test_the_scan_finds_every_way_of_changing_the_environment():
    source = ("import os\nimport os as o\nfrom os import environ as env\n"
              "os.environ['A'] = '1'\nos.environ.update({'B': '2'})\no.environ.setdefault('C', '3')\n"
              "env['D'] = '4'\ndel os.environ['E']\nos.environ.pop('F', None)\nos.putenv('G', '7')\n"
              "os.environ = {}\nos.environ.get('H')\nx = os.environ['I']\n")
    assert sorted(environ_changes(ast.parse(source))) == [
        (4, "assign", "A"), (5, "update", None), (6, "setdefault", "C"), (7, "assign", "D"),
        (8, "delete", "E"), (9, "pop", "F"), (10, "putenv", "G"), (11, "rebind", None)]


def test_no_file_in_src_changes_os_environ():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for line, how, key in environ_changes(ast.parse(path.read_text(), str(path))):
            if (rel, how, key) not in ALLOWED:
                found.append(f"{rel}:{line}: {how} {key or ''}".rstrip())
    assert not found, "library code changes the process environment:\n" + "\n".join(found)


# What the child process runs: the adapter over HTTP, every method, with an audit hook recording
# each change of the environment *while* it happens (os.environ writes go through os.putenv and
# os.unsetenv, which raise audit events) — a change undone after each call is a change all the same.
_CHILD = r"""
import json, os, sys
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter
import lolpop.store._bounded_client  # noqa: F401 - imported before recording
uri, run_id, experiment = sys.argv[1:4]
events = []
sys.addaudithook(lambda event, args: events.append([event, str(args[0])])
                 if event in ("os.putenv", "os.unsetenv") else None)
before = dict(os.environ)
adapter = MlflowClientAdapter.open(uri, timeout=5)
exp = adapter.get_experiment_by_name(experiment)
runs = adapter.search_runs([exp.experiment_id])
adapter.get_run(run_id)
adapter.get_experiment(exp.experiment_id)
adapter.search_experiments()
files = adapter.list_artifacts(run_id)
content = adapter.read_artifact(run_id, "note.txt")
adapter.close()
print(json.dumps({"events": events, "changed": sorted(k for k in set(before) | set(os.environ)
                                                   if before.get(k) != os.environ.get(k)),
                  "runs": len(runs), "files": [f.path for f in files], "content": content.decode()}))
"""


def test_the_mlflow_adapter_over_http_leaves_the_environment_alone(mlflow_server, tmp_path):
    client = MlflowClient(mlflow_server.url)
    experiment = f"env-{uuid.uuid4().hex[:8]}"
    exp_id = client.create_experiment(experiment)
    run = client.create_run(exp_id)
    client.set_tag(run.info.run_id, "k", "v")
    note = tmp_path / "note.txt"
    note.write_text("through the server's artifact proxy")
    client.log_artifact(run.info.run_id, str(note))
    client.set_terminated(run.info.run_id)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_HTTP_", "LOLPOP_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT)])
    proc = subprocess.run([sys.executable, "-c", _CHILD, mlflow_server.url, run.info.run_id, experiment],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["runs"] == 1 and got["files"] == ["note.txt"] and got["content"].startswith("through")
    assert got["events"] == [] and got["changed"] == []

    # And in this process: opening and using the adapter changes nothing either.
    from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

    before = dict(os.environ)
    with MlflowClientAdapter.open(mlflow_server.url, timeout=5) as adapter:
        assert adapter.get_run(run.info.run_id).data.tags["k"] == "v"
        assert dict(os.environ) == before
    assert dict(os.environ) == before


def test_the_adapter_bounds_requests_with_its_own_client(mlflow_server):
    # The bound lives in the client (per instance), where the environment variables used to be.
    from lolpop.store._bounded_client import BoundedMlflowClient
    from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

    adapter = MlflowClientAdapter.open(mlflow_server.url, timeout=3.5)
    assert isinstance(adapter.client, BoundedMlflowClient)
    assert adapter.client.bound.timeout == 3.5
