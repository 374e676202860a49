"""``make bench``: lolpop's tracker (immediate and batched write mode) vs lolpop 0.2.0 vs raw
MlflowClient floors (``raw_floor.py``: the floor with lolpop's MLflow-native records, and the seed
records only, kept for history), side by side; then the ``lolpop`` command's latency
(``cli_latency.py``) and the reads that still search on the look-ups' long histories
(``history_reads.py``: ``lolpop history`` / ``diff`` / ``lineage`` / ``impact``, issue 21 item 3).

Writes ``BENCHMARKS.md`` (repo root) and ``benchmarks/lookup_latency.png``; scratch goes to
``build/bench``. Every implementation runs in its own process (``driver.py``): ours (both write
modes) and the floors under this interpreter with the worktree's ``src`` first on the path, lolpop
0.2.0 under the throwaway venv from ``legacy_setup.py``. The ``mlflow server`` and the counting
proxy are the tests' (``tests/support/``).

    python benchmarks/run.py [--cycles 5] [--rounds 3] [--reps 3] [--sizes 100,1000,10000,100000]
                             [--cli-runs 7] [--reads-runs 5] [--quick]

``--quick`` (a check that everything runs, a few minutes): 2 cycles, 2 rounds of 2 timed calls
per look-up, histories of 100 and 1000 cycles (the reads are timed on those too), 2 runs per command; it writes ``build/bench-quick/BENCHMARKS.md`` and
``build/bench-quick/lookup_latency.png`` unless ``--out`` / ``--plot`` say otherwise, so the
committed report is only ever written by a full run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the server and proxy helpers shared with the tests (tests/support)

import cli_latency  # noqa: E402
import history  # noqa: E402
import history_reads  # noqa: E402
import legacy_setup  # noqa: E402
import report  # noqa: E402
from tests.support.http_proxy import HttpProxy  # noqa: E402
from tests.support.mlflow_server import MlflowServer, sqlite_server  # noqa: E402

IMPLS = report.IMPLS
# The batched write mode changes when writes are sent, not the searches: look-ups are timed for
# ``ours`` only and reported for both variants; likewise the two floors search alike (``raw``).
LOOKUP_IMPLS = ("ours", "legacy", "raw")


def rotated(impls: tuple[str, ...], n: int) -> tuple[str, ...]:
    """``impls`` rotated by ``n`` (round-robin order that changes every round)."""
    k = n % len(impls)
    return impls[k:] + impls[:k]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Runner:
    """One long-lived ``driver.py --serve`` process per implementation (see ``driver.serve``)."""

    def __init__(self, build: Path, legacy_python: Path) -> None:
        self.build = build
        self.procs: dict[str, subprocess.Popen[str]] = {}
        for impl in IMPLS:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
            env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
            env["PYTHONWARNINGS"] = "ignore"
            if impl == "legacy":
                env.pop("PYTHONPATH", None)
                python = str(legacy_python)
            else:
                src = [str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
                env["PYTHONPATH"] = os.pathsep.join(src)
                python = sys.executable
            cwd = build / f"work-{impl}"
            cwd.mkdir(parents=True, exist_ok=True)
            self.procs[impl] = subprocess.Popen(
                [python, str(HERE / "driver.py"), "--serve"], cwd=cwd, env=env, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(cwd / "stderr.log", "w"))

    def driver(self, impl: str, cfg: dict[str, Any]) -> dict[str, Any]:
        proc = self.procs[impl]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({**cfg, "impl": impl}) + "\n")
        proc.stdin.flush()
        for line in proc.stdout:
            if line.startswith("@@RESULT@@ "):
                result = json.loads(line[len("@@RESULT@@ "):])
                if "error" in result:
                    raise RuntimeError(f"{impl} {cfg['mode']} failed: {result['traceback']}")
                return result["ok"]
        raise RuntimeError(f"{impl} driver exited; see {self.build / f'work-{impl}' / 'stderr.log'}")

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _interleaved(r: Runner, args: argparse.Namespace, cfg_of: Any) -> dict[str, Any]:
    """Warm-up cycle, then ``args.cycles`` cycles round-robin over the implementations (the order
    rotates every round), so a fluctuating machine load hits all implementations alike."""
    out: dict[str, Any] = {impl: {"times": [], "counts": [], "phases": [], "step_overhead_s": []} for impl in IMPLS}
    for impl in IMPLS:
        r.driver(impl, {**cfg_of(impl), "mode": "cycles", "warmup": 1, "cycles": 0, "first_cycle": 0})
    for c in range(args.cycles):
        for impl in rotated(IMPLS, c):
            res = r.driver(impl, {**cfg_of(impl), "mode": "cycles", "warmup": 0, "cycles": 1, "first_cycle": c + 1})
            out[impl]["times"] += res["times"]
            out[impl]["counts"] += res["counts"]
            out[impl]["phases"] += res["phases"]  # time per phase of each timed cycle (driver.PhaseTimer)
            out[impl]["step_overhead_s"].append(res["step_overhead_s"])
            out[impl]["step_calls"] = res["step_calls"]
            out[impl]["summary"] = res["summary"]
    for impl in IMPLS:
        out[impl]["median"] = statistics.median(out[impl]["times"])
    return out


def _server(db: Path, artifacts: Path, log_path: Path) -> MlflowServer:
    """``mlflow server`` on the SQLite file ``db`` (1 worker, no job runner, artifacts served),
    started without this process's ``MLFLOW_*`` variables."""
    return sqlite_server(db, artifacts, log_path, inherit_mlflow_env=False).start()


def bench_cycles(r: Runner, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {}
    # --- SQLite file store: one fresh database per implementation
    d = r.build / "cycles-sqlite"
    shutil.rmtree(d, ignore_errors=True)

    def sqlite_cfg(impl: str) -> dict[str, Any]:
        return {"uri": f"sqlite:///{d / impl / 'mlflow.db'}", "experiment": "bench",
                "artifact_location": (d / impl / "mlartifacts").as_uri()}

    for impl in IMPLS:
        (d / impl).mkdir(parents=True)
    log("cycles on SQLite (interleaved)")
    res["sqlite"] = _interleaved(r, args, sqlite_cfg)
    log("  medians: " + ", ".join(f"{i} {res['sqlite'][i]['median']:.3f}s" for i in IMPLS))
    for impl in ("ours", "batched"):
        r.driver(impl, {**sqlite_cfg(impl), "mode": "cycles", "warmup": 0, "cycles": 0, "first_cycle": 900,
                        "profile": str(r.build / "profiles" / f"{impl}-cycle-sqlite.txt")})
    # --- mlflow server through the counting proxy
    d2 = r.build / "cycles-server"
    shutil.rmtree(d2, ignore_errors=True)
    d2.mkdir(parents=True)
    server = _server(d2 / "mlflow.db", d2 / "artifacts", d2 / "server.log")
    proxy = HttpProxy(server.url)

    def server_cfg(impl: str) -> dict[str, Any]:
        return {"uri": proxy.url, "experiment": f"bench-{impl}", "counts_url": proxy.url}

    try:
        log("cycles on mlflow server (interleaved)")
        res["server"] = _interleaved(r, args, server_cfg)
        for impl in IMPLS:
            bd = r.driver(impl, {**server_cfg(impl), "mode": "cycles", "warmup": 0, "cycles": 0,
                                 "first_cycle": 800, "breakdown": True})
            res["server"][impl]["breakdown"] = bd["breakdown"]
        for impl in ("ours", "batched"):
            r.driver(impl, {**server_cfg(impl), "mode": "cycles", "warmup": 0, "cycles": 0, "first_cycle": 900,
                            "profile": str(r.build / "profiles" / f"{impl}-cycle-server.txt")})
        log("  medians: " + ", ".join(
            f"{i} {res['server'][i]['median']:.3f}s / "
            f"{statistics.median(sum(c.values()) for c in res['server'][i]['counts']):.0f} requests" for i in IMPLS))
    finally:
        proxy.close()
        server.stop()
    return res


def bench_lookups(r: Runner, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {"sqlite": {}, "server": {}, "generate_s": {}}
    d = r.build / "lookups"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    dbs: dict[int, Path] = {}
    done, work = 0, d / "work.db"
    for size in args.sizes:  # cumulative: each size's store = the previous one + more cycles
        log(f"history: generating cycles {done}..{size - 1}")
        res["generate_s"][size] = history.generate(work, "lookup", done, size)
        done = size
        (d / str(size)).mkdir()
        dbs[size] = d / str(size) / "mlflow.db"
        shutil.copyfile(work, dbs[size])
    work.unlink()

    def run_all(backend: str, uri_of: Any) -> None:
        # Rounds: every round visits every size and implementation (orders rotated), ``args.reps``
        # timed calls per look-up each, so a fluctuating machine load hits all sizes alike.
        for rnd in range(args.rounds):
            for n, size in enumerate(rotated(tuple(args.sizes), rnd)):
                for impl in rotated(LOOKUP_IMPLS, rnd + n):
                    cfg = {"mode": "lookups", "uri": uri_of(size), "experiment": "lookup", "reps": args.reps,
                           "delete_own_run": True}
                    if impl == "ours" and size == max(args.sizes) and rnd == args.rounds - 1:
                        cfg["profile"] = str(r.build / "profiles" / f"ours-lookups-{backend}-{size}.txt")
                    _merge(res[backend].setdefault(impl, {}).setdefault(size, {}), r.driver(impl, cfg))
            log(f"  {backend}: round {rnd + 1}/{args.rounds} done")
        for size in args.sizes:
            for lookup in report.ALL_LOOKUPS:
                ours = res[backend]["ours"][size]
                log(f"  {backend}, {size} cycles, {lookup}: " + ", ".join(
                    f"{i} {res[backend][i][size]['median'][lookup] * 1000:.1f} ms" for i in LOOKUP_IMPLS)
                    + f" (ours: {ours['searches'][lookup]} searches in {ours['reps']} calls, "
                      f"same as search: {ours['same_as_search'][lookup]})")

    run_all("sqlite", lambda size: f"sqlite:///{dbs[size]}")
    servers = {}
    try:
        for size in args.sizes:
            servers[size] = _server(dbs[size], d / str(size) / "artifacts", d / str(size) / "server.log")
        for server in servers.values():
            server.warm_up("lookup")
        run_all("server", lambda size: servers[size].url)
    finally:
        for server in servers.values():
            server.stop()
    return res


def _merge(acc: dict[str, Any], out: dict[str, Any]) -> None:
    """Add one round's look-up result ``out`` to ``acc``: times pooled (median over all rounds),
    counts summed, ``same_as_search`` true only if it held in every round, ``found`` the last
    round's with ``found_varies`` set when rounds found different runs."""
    if not acc:
        acc.update({"times": {k: [] for k in out["times"]}, "reps": 0, "rounds": 0, "found_varies": {}})
    for k, v in out["times"].items():
        acc["times"][k] += v
    acc["median"] = {k: statistics.median(v) for k, v in acc["times"].items()}
    acc["reps"] += out["reps"]
    acc["rounds"] += 1
    for k, v in out["found"].items():
        before = acc.get("found", {}).get(k, v)
        acc["found_varies"][k] = acc["found_varies"].get(k, False) or (before or {}).get("run_id") != (v or {}).get("run_id")
    acc["found"] = out["found"]
    if "searches" in out:
        acc["searches"] = {k: acc.get("searches", {}).get(k, 0) + v for k, v in out["searches"].items()}
        calls = acc.setdefault("client_calls", {})
        for k, per in out["client_calls"].items():
            calls[k] = {c: calls.get(k, {}).get(c, 0) + n for c, n in per.items()}
        acc["same_as_search"] = {k: acc.get("same_as_search", {}).get(k, True) and v
                                 for k, v in out["same_as_search"].items()}
        acc["search_answer"] = out["search_answer"]


def many_experiments(args: argparse.Namespace) -> dict[str, Any]:
    """``many_experiments.py`` in its own process, on this worktree's ``src`` (as the drivers)."""
    counts = "20,200" if args.quick else "100,1000"
    log(f"one model version with {counts.replace(',', ' and ')} experiments (many_experiments.py)")
    out = args.build / "many.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore",
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))})
    subprocess.run([sys.executable, str(HERE / "many_experiments.py"), "--counts", counts,
                    "--reps", "1" if args.quick else "3", "--build", str(args.build / "many"), "--json", str(out)],
                   env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=open(args.build / "many.log", "w"))
    return json.loads(out.read_text())


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return {"load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
            "os": platform.platform(), "cpu": cpu, "cores": str(os.cpu_count()), "memory": mem,
            "python": platform.python_version(), "mlflow": version("mlflow"),
            "sqlalchemy": version("sqlalchemy")}


def _link(plot: Path, out: Path) -> Path:
    """The plot's path as the report links it (relative to the report's folder)."""
    return Path(os.path.relpath(plot, out.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=None, help="timed training cycles per implementation (5)")
    ap.add_argument("--reps", type=int, default=None, help="timed calls per look-up and round (3)")
    ap.add_argument("--rounds", type=int, default=None, help="look-up rounds over all sizes (3)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="history sizes, cumulative (100,1000,10000,100000)")
    ap.add_argument("--build", type=Path, default=None, help="scratch directory (build/bench)")
    ap.add_argument("--out", type=Path, default=None, help="report (BENCHMARKS.md)")
    ap.add_argument("--plot", type=Path, default=None, help="plot (benchmarks/lookup_latency.png)")
    ap.add_argument("--cli-runs", type=int, default=None, help="timed runs per `lolpop` command (7)")
    ap.add_argument("--reads-runs", type=int, default=None,
                    help="timed runs per command, history size and backend of history_reads.py (5)")
    ap.add_argument("--quick", action="store_true",
                    help="small run to check everything works: --cycles 2 --reps 2 --rounds 2 --sizes 100,1000 "
                         "--cli-runs 2 --reads-runs 2, "
                         "output under build/bench-quick")
    ap.add_argument("--skip-cycles", action="store_true", help="reuse build/bench/results.json cycles")
    ap.add_argument("--skip-many", action="store_true",
                    help="leave out many_experiments.py (one model version with 100 and 1 000 experiments)")
    ap.add_argument("--render-only", action="store_true", help="re-render from build/bench/results.json")
    args = ap.parse_args()
    quick = ROOT / "build" / "bench-quick"
    defaults = ({"cycles": 2, "reps": 2, "rounds": 2, "sizes": [100, 1000], "cli_runs": 2, "reads_runs": 2,
                 "build": quick,
                 "out": quick / "BENCHMARKS.md", "plot": quick / "lookup_latency.png"} if args.quick else
                {"cycles": 5, "reps": 3, "rounds": 3, "sizes": [100, 1000, 10000, 100000], "cli_runs": 7,
                 "reads_runs": 5,
                 "build": ROOT / "build" / "bench", "out": ROOT / "BENCHMARKS.md", "plot": HERE / "lookup_latency.png"})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if sorted(args.sizes) != args.sizes or len(set(args.sizes)) != len(args.sizes):
        ap.error("--sizes must increase (the history is generated cumulatively)")
    args.build, args.out, args.plot = args.build.resolve(), args.out.resolve(), args.plot.resolve()
    if args.render_only:
        results = json.loads((args.build / "results.json").read_text())
        report.plot(results, args.plot)
        args.out.write_text(report.render(results, _link(args.plot, args.out)))
        return
    t0 = time.time()
    args.build.mkdir(parents=True, exist_ok=True)
    (args.build / "profiles").mkdir(exist_ok=True)
    # 0.2.0's venv is shared by quick and full runs (building it is the slow part of a first run)
    legacy_python = legacy_setup.ensure(ROOT / "build" / "bench" if args.quick else args.build)
    r = Runner(args.build, legacy_python)
    try:
        _main(args, r, t0)
    finally:
        r.close()


def _main(args: argparse.Namespace, r: Runner, t0: float) -> None:
    results_path = args.build / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.exists() else {}
    results: dict[str, Any] = {"machine": machine(), "args": {"cycles": args.cycles, "reps": args.reps,
                                                              "rounds": args.rounds,
                                                              "sizes": args.sizes, "quick": args.quick,
                                                              "cli_runs": args.cli_runs,
                                                              "reads_runs": args.reads_runs}}
    results["cycles"] = previous["cycles"] if args.skip_cycles and "cycles" in previous else bench_cycles(r, args)
    results_path.write_text(json.dumps(results, indent=1, default=str))
    results["lookups"] = bench_lookups(r, args)
    # the look-ups' stores (build/lookups/<size>) are the histories these commands read: none made twice
    log("reads that still search on those histories (history_reads.py)")
    results["reads"] = history_reads.measure(args.build / "reads", args.sizes, args.reads_runs,
                                             reuse=args.build / "lookups")
    results_path.write_text(json.dumps(results, indent=1, default=str))
    log("lolpop command latency (cli_latency.py)")
    results["cli"] = cli_latency.measure(args.build / "cli", runs=args.cli_runs)
    if not args.skip_many:
        results["many"] = many_experiments(args)
    results["elapsed_s"] = time.time() - t0
    results["machine"]["load_end"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    results["profiles"] = {p.stem: p.read_text() for p in sorted((args.build / "profiles").glob("*.txt"))}
    results_path.write_text(json.dumps(results, indent=1, default=str))
    report.plot(results, args.plot)
    args.out.write_text(report.render(results, _link(args.plot, args.out)))
    log(f"wrote {args.out} and {args.plot} in {results['elapsed_s']:.0f}s")


if __name__ == "__main__":
    main()
