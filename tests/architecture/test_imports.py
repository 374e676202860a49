"""The layers of docs/architecture.md hold: no import cycles in src/, and the reading side
(lineage, CLI, storage format) does not load the tracker until it is used."""

from __future__ import annotations

import ast
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


def _is_type_checking_only(path: Path) -> set[str]:
    """Imports under ``if TYPE_CHECKING:`` never run: they are not edges."""
    skipped: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and sub.module:
                    skipped.add(sub.module)
    return skipped


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        # A package's __init__ re-exporting its children is not a cycle with them.
        graph[name] = {t for t in _imports(name, path, modules) - _is_type_checking_only(path)
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
