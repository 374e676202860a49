"""One server helper and one HTTP proxy (issue 19, item 5): ``tests/support/mlflow_server.py`` and
``tests/support/http_proxy.py`` serve the tests and the benchmarks alike, so no module under
``benchmarks/`` starts an ``mlflow server`` or serves HTTP itself, and no test reaches into
``benchmarks/`` for a helper."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
BENCHMARKS = ROOT / "benchmarks"
#: Modules that run an HTTP server or relay (a proxy is one).
SERVING_MODULES = {"http.server", "socketserver"}


def _serves_http(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in SERVING_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in SERVING_MODULES:
            found.append(node.module)
        elif isinstance(node, ast.Name) and node.id.endswith(("HTTPServer", "RequestHandler")):
            found.append(node.id)
    return found


def _starts_mlflow_server(tree: ast.AST) -> bool:
    """A command list holding ``"mlflow"`` then ``"server"`` (``[python, "-m", "mlflow", "server", …]``
    or ``["mlflow", "server", …]``)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if any(a == "mlflow" and b == "server" for a, b in zip(words, words[1:])):
                return True
    return False


def test_no_benchmark_module_defines_its_own_server_or_proxy():
    offenders = {}
    for path in sorted(BENCHMARKS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        what = _serves_http(tree) + (["mlflow server subprocess"] if _starts_mlflow_server(tree) else [])
        if what:
            offenders[str(path.relative_to(ROOT))] = sorted(set(what))
    assert offenders == {}, ("start servers and proxies with tests/support/mlflow_server.py and "
                             f"tests/support/http_proxy.py: {offenders}")


def test_the_benchmarks_use_the_shared_helpers():
    users = {path.name for path in BENCHMARKS.glob("*.py")
             if "tests.support.mlflow_server" in path.read_text(encoding="utf-8")}
    assert {"run.py", "cli_latency.py", "many_experiments.py"} <= users
    assert "tests.support.http_proxy" in (BENCHMARKS / "driver.py").read_text(encoding="utf-8")


def test_no_test_imports_a_helper_from_benchmarks():
    """Tests import the benchmark *code* they check (the smoke test, 0.2.0's venv), never a server
    or proxy from there."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n in {"proxy", "mlflow_server"}]
    assert offenders == []


def test_one_http_proxy_in_tests_support():
    """Besides the HTTP proxy, only the TCP-level relay (its docstring says why it is another tool)."""
    serving = sorted(path.name for path in (ROOT / "tests" / "support").glob("*.py")
                     if _serves_http(ast.parse(path.read_text(encoding="utf-8"))))
    assert serving == ["http_proxy.py"]
