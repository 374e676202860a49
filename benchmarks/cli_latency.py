"""Wall time of the ``lolpop`` command as a user runs it, on a quickstart store.

Measures the median wall time of ``lolpop --help``, ``--version``, and ``history`` / ``show`` /
``lineage`` of the quickstart's model version, against the quickstart's SQLite file and against a
local ``mlflow server`` on a copy of it (SQLite behind, 1 worker). Each command runs as a fresh
``python -m lolpop.cli`` process (interpreter start-up and imports included, as for a user),
``--runs`` times after one warm-up; the commands are interleaved round-robin so machine load
hits them alike. Prints a markdown table (targets: ``--help`` / ``--version`` ≤ 0.3 s, reading
commands ≤ 1.5 s).

    python benchmarks/cli_latency.py [--runs 7] [--baseline-ref REF]

``--baseline-ref`` also times the ``src/`` of a git revision of this repo (for before/after
ratios). ``benchmarks/run.py`` (``make bench``) calls :func:`measure` and ``report.py`` renders
:func:`render` into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the server helper shared with the tests

from tests.support.mlflow_server import sqlite_server  # noqa: E402

RESOURCE = "breast_cancer_model"
#: (label, arguments after the tracking options, store needed, target seconds)
COMMANDS = (
    ("lolpop --help", ["--help"], False, 0.3),
    ("lolpop --version", ["--version"], False, 0.3),
    (f"lolpop history {RESOURCE}", ["history", RESOURCE], True, 1.5),
    (f"lolpop show {RESOURCE}", ["show", RESOURCE], True, 1.5),
    (f"lolpop lineage {RESOURCE}", ["lineage", RESOURCE], True, 1.5),
)
BACKENDS = {"sqlite": "SQLite file store", "server": "mlflow server (SQLite, 1 worker)"}


def log(msg: str) -> None:
    print(f"[cli-latency {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOLPOP_"))}
    env["PYTHONPATH"] = str(src)
    env["COLUMNS"] = "160"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def quickstart_store(build: Path) -> Path:
    """``build/quickstart-store/mlflow.db``, made by ``lolpop quickstart`` once and reused."""
    work = build / "quickstart-store"
    db = work / "mlflow.db"
    if not db.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log("building the quickstart store (lolpop quickstart)")
        subprocess.run([sys.executable, "-m", "lolpop.cli", "quickstart", "--dir", "quickstart"], cwd=work,
                       env=_env(ROOT / "src"), check=True, capture_output=True, timeout=900)
    return db


def baseline_src(build: Path, ref: str) -> Path:
    """``src/`` of git revision ``ref``, extracted under ``build``."""
    target = build / f"src-{ref}"
    if not target.exists():
        data = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, check=True, capture_output=True).stdout
        target.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(target, filter="data")
    return target / "src"


def _time(src: Path, uri: str, args: list[str], cwd: Path) -> float:
    cmd = [sys.executable, "-m", "lolpop.cli", "--tracking-uri", uri, *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(src), capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def measure(build: Path, runs: int = 7, baseline_ref: str | None = None) -> dict[str, Any]:
    """Median wall times: ``{"impls": {name: {backend: {label: {...}}}}, ...}``."""
    build.mkdir(parents=True, exist_ok=True)
    db = quickstart_store(build)
    impls = {"current": ROOT / "src"}
    if baseline_ref:
        impls[f"baseline {baseline_ref}"] = baseline_src(build, baseline_ref)
    (build / "server").mkdir(parents=True, exist_ok=True)
    copy = build / "server" / "server.db"
    shutil.copyfile(db, copy)
    server = sqlite_server(copy, build / "server" / "artifacts", build / "server" / "server.log",
                           inherit_mlflow_env=False).start()
    uris = {"sqlite": f"sqlite:///{db}", "server": server.url}
    load_start = os.getloadavg()
    try:
        cases = [(impl, backend, label, args) for impl in impls for backend in BACKENDS
                 for label, args, needs_store, _ in COMMANDS if needs_store or backend == "sqlite"]
        times: dict[tuple[str, str, str], list[float]] = {case[:3]: [] for case in cases}
        log(f"{len(cases)} cases x ({runs} runs + 1 warm-up)")
        for rnd in range(runs + 1):
            k = rnd % len(cases)
            for impl, backend, label, args in cases[k:] + cases[:k]:
                t = _time(impls[impl], uris[backend], args, db.parent)
                if rnd:
                    times[(impl, backend, label)].append(t)
    finally:
        server.stop()
    out: dict[str, Any] = {"runs": runs, "impls": {}, "load": [load_start, os.getloadavg()],
                           "python": platform.python_version(), "cpus": os.cpu_count()}
    for (impl, backend, label), ts in times.items():
        out["impls"].setdefault(impl, {}).setdefault(backend, {})[label] = {
            "median": statistics.median(ts), "min": min(ts), "max": max(ts)}
    return out


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def render(results: dict[str, Any]) -> str:
    """The markdown section: a row per command, a column per backend (then the baseline's and the
    ratios, when one was timed)."""
    impls = results["impls"]
    base = next((name for name in impls if name != "current"), None)

    def median(impl: str, backend: str, label: str) -> float | None:
        entry = impls[impl].get(backend, {}).get(label)
        return None if entry is None else entry["median"]

    header = [BACKENDS[b] for b in BACKENDS]
    if base:
        header += [f"{base}, {b}" for b in BACKENDS] + [f"current / baseline, {b}" for b in BACKENDS]
    lines = ["| command | " + " | ".join(header) + " | target | met? |",
             "|---|" + "---:|" * len(header) + "---:|:---:|"]
    for label, _, _, target in COMMANDS:
        now = [median("current", b, label) for b in BACKENDS]
        cells = [f"{_s(m)} ({_s(impls['current'][b][label]['min'])}–{_s(impls['current'][b][label]['max'])})"
                 if m is not None else "(reads no store)" for b, m in zip(BACKENDS, now)]
        if base:
            before = [median(base, b, label) for b in BACKENDS]
            cells += [_s(m) if m is not None else "" for m in before]
            cells += [f"{m / b:.2f}×" if m is not None and b else "" for m, b in zip(now, before)]
        ok = all(m <= target for m in now if m is not None)
        lines.append(f"| `{label}` | " + " | ".join(cells) + f" | ≤ {target:g} s | {'yes' if ok else '**no**'} |")
    (l1, l5, _), (e1, e5, _) = results["load"]
    lines.append("")
    lines.append(f"Median of {results['runs']} runs each (min–max in brackets) after one warm-up, every run a "
                 f"fresh `python -m lolpop.cli` process (Python {results['python']}, {results['cpus']} CPUs; "
                 f"load average 1/5 min {l1:.1f}/{l5:.1f} at start, {e1:.1f}/{e5:.1f} at end). Store: the "
                 "quickstart's `mlflow.db` (`lolpop quickstart`); server: `mlflow server` on a copy of it. "
                 "`--help` and `--version` read no store. Source: `benchmarks/cli_latency.py`.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "bench" / "cli")
    ap.add_argument("--baseline-ref", default=None, help="also time this git revision's src/ (before/after)")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = ap.parse_args()
    results = measure(args.build.resolve(), args.runs, args.baseline_ref)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(render(results))


if __name__ == "__main__":
    main()
