"""The layers of docs/architecture.md hold: no import cycles in src/ (imports under
``TYPE_CHECKING`` count: a cycle a type checker sees is still a knot), every package imports only
the packages below it, every ``mlflow`` import is in the store-access package (the sklearn model
flavour apart), and the reading side (lineage, CLI, storage format) does not load the tracker."""

from __future__ import annotations

import ast
import re
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
PACKAGE = SRC / "lolpop"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """lolpop modules ``name`` imports anywhere in its file (lazy imports included)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in modules and target != name:
                found.add(target)
    return found


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        # A package's __init__ re-exporting its children is not a cycle with them.
        graph[name] = {t for t in _imports(name, path, modules)
                       if not (t.startswith(name + ".") and path.name == "__init__.py")}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh set of lolpop modules, so no import order hides a cycle."""
    code = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {sorted(_modules())!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'lolpop' or m.startswith('lolpop.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = repr(exc)\n"
        "print(json.dumps(failed))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


def test_reading_side_does_not_load_the_tracker():
    code = (
        "import sys, json\n"
        "import lolpop.layout.keys, lolpop.layout.values, lolpop.layout.versions, lolpop.layout.uris\n"
        "import lolpop.lineage, lolpop.cli.main\n"
        "print(json.dumps(sorted(m for m in sys.modules if 'metadata_tracker' in m)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# Who may import whom, package by package (docs/architecture.md draws it). A package imports only
# packages listed for it; a new edge is a design decision: draw it there, then add it here.
LAYERS: dict[str, set[str]] = {
    "lolpop.exceptions": set(),
    "lolpop.testing": {"lolpop.exceptions", "lolpop.layout"},
    "lolpop.layout": {"lolpop.exceptions"},
    "lolpop.store": {"lolpop", "lolpop.exceptions", "lolpop.layout"},
    "lolpop.lineage": {"lolpop.exceptions", "lolpop.layout", "lolpop.store"},
    "lolpop.audit": {"lolpop.exceptions", "lolpop.layout", "lolpop.store", "lolpop.lineage"},
    # the component layer: the tracker and the other components, and the registry of their classes
    "lolpop.component": {"lolpop", "lolpop.exceptions", "lolpop.layout", "lolpop.store", "lolpop.lineage",
                         "lolpop.audit", "lolpop.registry"},
    "lolpop.registry": {"lolpop.exceptions", "lolpop.component"},
    "lolpop.components": {"lolpop.component"},
    "lolpop.quickstart": {"lolpop.components", "lolpop.layout"},
    "lolpop.cli": {"lolpop", "lolpop.exceptions", "lolpop.layout", "lolpop.store", "lolpop.lineage", "lolpop.audit",
                   "lolpop.quickstart"},
}

# Every `mlflow` import lives in the store-access package; the sklearn model flavour (MLflow's
# model format, not its tracking API) is the one module apart.
MLFLOW_IMPORTERS_OUTSIDE_STORE = {"lolpop.component._sklearn_io"}


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_package_imports_only_the_packages_below_it():
    modules = _modules()
    wrong = sorted(
        f"{name} imports {target}"
        for name, path in modules.items() if name != "lolpop"
        for target in _imports(name, path, modules)
        if _package(target) != _package(name) and _package(target) not in LAYERS[_package(name)]
    )
    assert wrong == []
    assert set(LAYERS) == {_package(m) for m in modules if m != "lolpop"}, "a package without a layer"


def test_mlflow_is_imported_only_by_the_store_access_package():
    outside = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "mlflow" or n.startswith("mlflow.") for n in names):
                outside.add(name)
    outside = {m for m in outside if _package(m) != "lolpop.store"}
    assert outside == MLFLOW_IMPORTERS_OUTSIDE_STORE


def test_nothing_in_src_writes_os_environ():
    writes = re.compile(r"os\.environ\s*\[[^]]*\]\s*=(?!=)|os\.environ\.(setdefault|update|pop|clear)\(|"
                        r"os\.(putenv|unsetenv)\(|del\s+os\.environ")
    found = [f"{path.relative_to(SRC)}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if writes.search(line)]
    assert found == []


# Storage-format facts are spelled once, in lolpop.layout (issue 19, item 3): elsewhere they are
# named through it (keys.LINEAGE_KEY, keys.LINEAGE_FLAG, keys.prediction_job_id, ...).
FORMAT_STRINGS = {"dataset_versions", "dataset_versions.exists", "_predictions"}


def test_storage_format_strings_live_in_layout():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("lolpop/layout/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in FORMAT_STRINGS:
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert found == []
