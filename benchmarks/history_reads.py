"""Wall time of the ``lolpop`` reads that still search (issue 21, item 3), on long histories.

Times, as a user runs them, four reading commands on the histories ``history.py`` generates
(N finished training cycles of the model version ``churn_model`` trained on ``train_data``, each
with its prediction job, lineage tags and used-by index; every 10th version ``DEPLOYED``):

* ``lolpop history churn_model`` (its versions, newest first: one search, then the taint walk),
* ``lolpop diff churn_model`` (the newest version against the one before it),
* ``lolpop lineage churn_model`` (the newest version; ``--direction both`` is the default, so the
  downstream walk, the search for its prediction jobs, is included),
* ``lolpop impact train_data --run <run>`` (the downstream walk from the dataset version of the
  newest ``DEPLOYED`` cycle: used-by and made-from searches, prediction jobs, "deployed now").

on the SQLite file (``--tracking-uri sqlite:///…``) and through a local ``mlflow server`` on the
same file (SQLite behind, 1 worker), each as a fresh ``python -m lolpop.cli`` process (interpreter
start-up and imports included), ``runs`` times after one warm-up, every case (command × history
size × backend) interleaved round-robin with the order rotated each round, so machine load hits
them alike — as ``cli_latency.py`` times the quickstart's commands. The warm-up run of each server
case goes through the tests' counting proxy (``tests/support/http_proxy.py``): the requests a
command sends, by endpoint (how many searches it still makes); the timed runs talk to the server
directly.

Targets (issue 21, item 3): each at 100 000 cycles ≤ 0.3 s on SQLite and ≤ 0.6 s on the server.

The stores are the look-up benchmark's (``<build>/lookups/<size>/mlflow.db``, ``run.py``) when
they hold that many cycles; a size without one is generated here (cumulatively, as ``run.py``
does), so no second store of a size is made. ``run.py`` (``make bench``) calls :func:`measure`
after the look-ups and ``report.py`` renders :func:`render` into BENCHMARKS.md.

    python benchmarks/history_reads.py [--sizes 100,1000] [--runs 5] [--build build/bench] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the server helper shared with the tests

import history  # noqa: E402
import workload as W  # noqa: E402
from tests.support.http_proxy import HttpProxy  # noqa: E402
from tests.support.mlflow_server import sqlite_server  # noqa: E402

EXPERIMENT = "lookup"  # the look-up benchmark's experiment (run.py), whose stores are reused
MODEL, DATASET = W.MODEL_VERSION, W.DATASET_VERSION
#: (label, arguments after the tracking options; ``{run}`` = the newest DEPLOYED cycle's run id)
COMMANDS = (
    (f"lolpop history {MODEL}", ["history", MODEL]),
    (f"lolpop diff {MODEL}", ["diff", MODEL]),
    (f"lolpop lineage {MODEL}", ["lineage", MODEL]),
    (f"lolpop impact {DATASET} --run <run>", ["impact", DATASET, "--run", "{run}"]),
)
BACKENDS = {"sqlite": "SQLite file store", "server": "mlflow server (SQLite, 1 worker)"}
#: Issue 21, item 3: seconds per command at :data:`TARGET_SIZE` cycles.
TARGETS = {"sqlite": 0.3, "server": 0.6}
TARGET_SIZE = 100_000
#: Seconds a command may take before it counts as failed (and is timed no further).
TIMEOUT = 600


def log(msg: str) -> None:
    print(f"[history-reads {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOLPOP_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    env["COLUMNS"] = "160"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _run_id(db: Path, name: str) -> str | None:
    """The active run named ``name`` in ``db`` (sqlite3, read-only)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT run_uuid FROM runs WHERE name = ? AND lifecycle_stage = 'active'",
                          (name,)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def holds(db: Path, size: int) -> bool:
    """Whether ``db`` holds exactly the history cycles ``0 .. size-1`` (by their run names; the
    look-up benchmark's own runs, deleted after each look-up, are not cycles)."""
    return db.exists() and _run_id(db, f"history-{size - 1}") is not None and _run_id(db, f"history-{size}") is None


def newest_deployed(size: int) -> int:
    """The newest history cycle whose model version is DEPLOYED."""
    return max(i for i in range(max(0, size - 10), size) if history.deployed(i))


def stores(build: Path, sizes: list[int], reuse: Path | None) -> tuple[dict[int, Path], dict[int, Any]]:
    """``({size: store}, {size: "reused" or generation seconds})``: the look-up benchmark's store
    of a size under ``reuse`` when it holds that history, else one generated under ``build``."""
    out: dict[int, Path] = {}
    made: dict[int, Any] = {}
    missing = []
    for size in sizes:
        db = reuse / str(size) / "mlflow.db" if reuse is not None else None
        if db is not None and holds(db, size):
            out[size], made[size] = db, "reused"
        else:
            missing.append(size)
    if missing:
        work, done = build / "stores" / "work.db", 0
        shutil.rmtree(build / "stores", ignore_errors=True)
        for size in missing:
            log(f"history: generating cycles {done}..{size - 1}")
            made[size] = history.generate(work, EXPERIMENT, done, size)
            done = size
            out[size] = build / "stores" / str(size) / "mlflow.db"
            out[size].parent.mkdir(parents=True)
            shutil.copyfile(work, out[size])
        work.unlink()
    return out, made


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:160]


def measure(build: Path, sizes: list[int], runs: int = 5, reuse: Path | None = None,
            backends: tuple[str, ...] = tuple(BACKENDS)) -> dict[str, Any]:
    """Median wall times of :data:`COMMANDS` per backend and history size; see the module doc.

    A command that fails is timed no further: its error (the last line of its stderr) is kept in
    ``errors`` and the table shows it."""
    t0 = time.time()
    build.mkdir(parents=True, exist_ok=True)
    dbs, made = stores(build, sizes, reuse)
    runs_of = {size: _run_id(dbs[size], f"history-{newest_deployed(size)}") for size in sizes}
    servers: dict[int, Any] = {}
    proxies: dict[int, HttpProxy] = {}
    uris: dict[tuple[str, int], str] = {}
    load_start = os.getloadavg()
    times: dict[tuple[str, int, str], list[float]] = {}
    answers: dict[tuple[str, int, str], str] = {}
    errors: dict[tuple[str, int, str], str] = {}
    requests: dict[tuple[str, int, str], dict[str, int]] = {}
    try:
        for size in sizes:
            uris[("sqlite", size)] = f"sqlite:///{dbs[size]}"
            if "server" in backends:
                d = build / "servers" / str(size)
                d.mkdir(parents=True, exist_ok=True)
                servers[size] = sqlite_server(dbs[size], d / "artifacts", d / "server.log",
                                              inherit_mlflow_env=False).start()
                servers[size].warm_up(EXPERIMENT)
                uris[("server", size)] = servers[size].url
                proxies[size] = HttpProxy(servers[size].url)
        cases = [(b, size, label, [a.format(run=runs_of[size]) for a in args])
                 for b in backends for size in sizes for label, args in COMMANDS]
        log(f"{len(cases)} cases x ({runs} runs + 1 warm-up)")
        for rnd in range(runs + 1):
            k = rnd % len(cases)
            for b, size, label, args in cases[k:] + cases[:k]:
                case = (b, size, label)
                if case in errors:
                    continue
                counted = rnd == 0 and b == "server"  # the warm-up, through the counting proxy
                uri = proxies[size].url if counted else uris[(b, size)]
                cmd = [sys.executable, "-m", "lolpop.cli", "--tracking-uri", uri, *args]
                if counted:
                    proxies[size].reset()
                start = time.perf_counter()
                try:
                    proc = subprocess.run(cmd, cwd=build, env=_env(), capture_output=True, text=True,
                                          timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    errors[case] = f"no answer in {TIMEOUT} s"
                    log(f"{b}, {size} cycles, {label}: {errors[case]}")
                    continue
                elapsed = time.perf_counter() - start
                if proc.returncode != 0:
                    errors[case] = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:160]
                    log(f"{b}, {size} cycles, {label}: failed: {errors[case]}")
                    continue
                if rnd:
                    times.setdefault(case, []).append(elapsed)
                else:
                    answers[case] = _first_line(proc.stdout)
                    if counted:
                        requests[case] = proxies[size].counts()
            log(f"  round {rnd + 1}/{runs + 1} done")
    finally:
        for proxy in proxies.values():
            proxy.close()
        for server in servers.values():
            server.stop()
    out: dict[str, Any] = {
        "runs": runs, "sizes": sizes, "backends": list(backends), "commands": [label for label, _ in COMMANDS],
        "impact_run": {str(s): {"cycle": newest_deployed(s), "run_id": runs_of[s]} for s in sizes},
        "stores": {str(s): made[s] for s in sizes}, "times": {}, "answers": {}, "errors": {}, "requests": {},
        "load": [load_start, os.getloadavg()], "python": platform.python_version(), "cpus": os.cpu_count(),
    }
    for (b, size, label), ts in times.items():
        out["times"].setdefault(b, {}).setdefault(str(size), {})[label] = {
            "median": statistics.median(ts), "min": min(ts), "max": max(ts)}
    for key, name in (("answers", answers), ("errors", errors), ("requests", requests)):
        for (b, size, label), text in name.items():
            out[key].setdefault(b, {}).setdefault(str(size), {})[label] = text
    out["elapsed_s"] = time.time() - t0
    return out


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def _n(size: int) -> str:
    return f"{size:,}".replace(",", " ")


def _ep(endpoint: str) -> str:
    """``GET runs/get`` for ``GET /api/2.0/mlflow/runs/get``."""
    method, _, path = endpoint.partition(" ")
    return f"{method} {path.split('/mlflow/', 1)[-1] if '/mlflow/' in path else path}"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _entry(results: dict[str, Any], b: str, size: int, label: str) -> dict[str, Any] | None:
    return results["times"].get(b, {}).get(str(size), {}).get(label)


def _error(results: dict[str, Any], b: str, size: int, label: str) -> str | None:
    return results.get("errors", {}).get(b, {}).get(str(size), {}).get(label)


def _cell(results: dict[str, Any], b: str, size: int, label: str) -> str:
    e = _entry(results, b, size, label)
    if e is not None:
        return f"{_s(e['median'])} ({_s(e['min'])}–{_s(e['max'])})"
    err = _error(results, b, size, label)
    return f"**error**: {err.replace('|', '/')}" if err else "—"


def render(results: dict[str, Any]) -> str:
    """The markdown section "Reads that still search (issue 21, item 3)": a row per command and
    backend, a column per history size (and the largest / smallest ratio), then the targets."""
    sizes = [int(s) for s in results["sizes"]]
    lo, hi = min(sizes), max(sizes)
    backends = [b for b in BACKENDS if b in results.get("backends", BACKENDS)]
    L: list[str] = ["## Reads that still search (issue 21, item 3)\n"]
    add = L.append
    impact = results["impact_run"][str(hi)]
    add("The `lolpop` commands that still search as history grows, as a user runs them (a fresh "
        "`python -m lolpop.cli` process each, interpreter start-up and imports included), on the "
        "histories of the look-up benchmark above (`benchmarks/history.py`: N finished cycles of "
        f"`{MODEL}` trained on `{DATASET}`, each with its prediction job, lineage tags and used-by "
        "index, every 10th version DEPLOYED): `history` lists the newest 100 versions (then walks their "
        "taint), `diff` compares the newest version with the one before it, `lineage` draws the newest "
        "version both ways (the default `--direction both`; downstream = the search for its prediction "
        f"jobs), `impact` walks downstream from the `{DATASET}` of the newest DEPLOYED cycle "
        f"(`<run>` = cycle {_n(impact['cycle'])} at {_n(hi)} cycles). The generated history holds no "
        "experiment runs (the look-ups never read them): `lineage` finds no experiments under a model "
        "version and `diff` shows the winning experiment as `(gone)`.\n")
    add("| command | backend | " + " | ".join(f"{_n(s)} cycles" for s in sizes)
        + (f" | {_n(hi)} / {_n(lo)} |" if hi != lo else " |"))
    add("|---|---|" + "---:|" * (len(sizes) + (hi != lo)))
    for label in results["commands"]:
        for b in backends:
            cells = [_cell(results, b, s, label) for s in sizes]
            if hi != lo:
                a, z = _entry(results, b, lo, label), _entry(results, b, hi, label)
                cells.append(f"{z['median'] / a['median']:.2f}×" if a and z else "—")
            add(f"| `{label}` | {BACKENDS[b]} | " + " | ".join(cells) + " |")
    add("")
    at = "" if hi == TARGET_SIZE else f" (this run's largest history; the target is for {_n(TARGET_SIZE)})"
    add(f"**Targets** (issue 21, item 3): each command at {_n(TARGET_SIZE)} cycles ≤ {TARGETS['sqlite']:g} s on "
        f"SQLite and ≤ {TARGETS['server']:g} s on the server; checked at {_n(hi)} cycles{at}.\n")
    add("| target | measured | met? |")
    add("|---|---:|:---:|")
    for b in backends:
        for label in results["commands"]:
            e = _entry(results, b, hi, label)
            ok = e is not None and e["median"] <= TARGETS[b]
            measured = _s(e["median"]) if e else _cell(results, b, hi, label)
            add(f"| `{label}` at {_n(hi)} cycles ≤ {TARGETS[b]:g} s, {BACKENDS[b]} | {measured} | "
                f"{'yes' if ok else '**no**'} |")
    add("")
    reqs = results.get("requests", {}).get("server", {})
    if reqs:
        add("Requests per command to the server (its warm-up run, through the counting proxy; the timed runs "
            "talk to the server directly):\n")
        add("| command | " + " | ".join(f"{_n(s)} cycles" for s in sizes) + f" | by endpoint, {_n(hi)} cycles |")
        add("|---|" + "---:|" * len(sizes) + "---|")
        for label in results["commands"]:
            per = [reqs.get(str(s), {}).get(label) for s in sizes]
            eps = per[-1] or {}
            add(f"| `{label}` | " + " | ".join("—" if c is None else str(sum(c.values())) for c in per) + " | "
                + (", ".join(f"{_ep(k)} × {v}" for k, v in sorted(eps.items())) or "—") + " |")
        add("")
    answers = results.get("answers", {})
    lines = []
    for label in results["commands"]:
        said = {b: answers.get(b, {}).get(str(hi), {}).get(label) for b in backends}
        first = next((v for v in said.values() if v is not None), None)
        if first is None:
            continue
        others = [f"{BACKENDS[b]}: {v}" for b, v in said.items() if v is not None and v != first]
        lines.append(f"`{label}`: {first}" + (f" ({'; '.join(others)})" if others else ""))
    if lines:
        add(f"What they answered at {_n(hi)} cycles (first line of the output"
            + (", the same on both backends unless said" if len(backends) > 1 else "") + "): "
            + "; ".join(line.replace("|", "/") for line in lines) + ".\n")
    (l1, l5, _), (e1, e5, _) = results["load"]
    stores = results.get("stores", {})
    reused = [s for s in sizes if stores.get(str(s)) == "reused"]
    add(f"Median of {results['runs']} runs each (min–max in brackets) after one warm-up; the "
        f"{len(sizes) * len(backends) * len(results['commands'])} cases (command × history size × backend) "
        f"run interleaved round-robin, the order rotated every round (Python {results['python']}, "
        f"{results['cpus']} CPUs; load average 1/5 min {l1:.1f}/{l5:.1f} at start, {e1:.1f}/{e5:.1f} at end; "
        f"{results.get('elapsed_s', 0):.0f} s in all). Stores: "
        + ("the look-up benchmark's" if len(reused) == len(sizes) else
           "generated by `history.py` for this benchmark" if not reused else
           f"the look-up benchmark's for {', '.join(_n(s) for s in reused)} cycles, generated for the rest")
        + "; server: `mlflow server` on the same SQLite file, 1 worker. Source: `benchmarks/history_reads.py`.\n")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 1000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "bench",
                    help="reuses <build>/lookups/<size>/mlflow.db; scratch in <build>/reads")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,server")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = ap.parse_args()
    build = args.build.resolve()
    results = measure(build / "reads", sorted(args.sizes), args.runs, reuse=build / "lookups",
                      backends=tuple(b for b in args.backends.split(",") if b))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(render(results))


if __name__ == "__main__":
    main()
