"""``make bench``: lolpop's tracker vs lolpop 0.2.0 vs a raw MlflowClient floor, side by side.

Writes ``BENCHMARKS.md`` (repo root) and ``benchmarks/lookup_latency.png``; scratch goes to
``build/bench``. Every implementation runs in its own process (``driver.py``): ours and the raw
floor under this interpreter with the worktree's ``src`` first on the path, lolpop 0.2.0 under
the throwaway venv from ``legacy_setup.py``.

    python benchmarks/run.py [--cycles 5] [--sizes 100,1000,10000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import history  # noqa: E402
import legacy_setup  # noqa: E402
import report  # noqa: E402
from proxy import CountingProxy  # noqa: E402

IMPLS = ("ours", "legacy", "raw")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runner:
    def __init__(self, build: Path, legacy_python: Path) -> None:
        self.build = build
        self.legacy_python = legacy_python

    def driver(self, impl: str, cfg: dict[str, Any], cwd: Path) -> dict[str, Any]:
        cfg = {**cfg, "impl": impl}
        cwd.mkdir(parents=True, exist_ok=True)
        out = cwd / f"result-{impl}-{cfg['mode']}-{time.monotonic_ns()}.json"
        cfg["out"] = str(out)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
        env["PYTHONWARNINGS"] = "ignore"
        if impl == "legacy":
            env.pop("PYTHONPATH", None)
            python = str(self.legacy_python)
        else:
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
            python = sys.executable
        proc = subprocess.run([python, str(HERE / "driver.py"), json.dumps(cfg)], cwd=cwd, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{impl} {cfg['mode']} failed:\n{proc.stderr[-4000:]}")
        return json.loads(out.read_text())


class Server:
    """``mlflow server`` (SQLite backend, 1 worker) on loopback, in its own process group."""

    def __init__(self, db: Path, artifacts: Path, log_path: Path) -> None:
        self.port = free_port()
        artifacts.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
               "--artifacts-destination", artifacts.as_uri(), "--serve-artifacts",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def bench_cycles(r: Runner, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {"sqlite": {}, "server": {}}
    base = {"mode": "cycles", "cycles": args.cycles, "warmup": 1}
    # --- SQLite file store: one fresh database per implementation
    for impl in IMPLS:
        d = r.build / "cycles-sqlite" / impl
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        cfg = {**base, "uri": f"sqlite:///{d / 'mlflow.db'}", "experiment": "bench",
               "artifact_location": (d / "mlartifacts").as_uri()}
        if impl == "ours":
            cfg["profile"] = str(r.build / "profiles" / "ours-cycle-sqlite.txt")
        log(f"cycles on SQLite: {impl}")
        res["sqlite"][impl] = r.driver(impl, cfg, d)
        log(f"  median {res['sqlite'][impl]['median']:.3f}s")
    # --- mlflow server through the counting proxy
    d = r.build / "cycles-server"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    server = Server(d / "mlflow.db", d / "artifacts", d / "server.log")
    proxy = CountingProxy(server.port).start()
    try:
        for impl in IMPLS:
            cfg = {**base, "uri": proxy.url, "experiment": f"bench-{impl}", "counts_url": proxy.url,
                   "breakdown": True}
            if impl == "ours":
                cfg["profile"] = str(r.build / "profiles" / "ours-cycle-server.txt")
            log(f"cycles on mlflow server: {impl}")
            res["server"][impl] = r.driver(impl, cfg, d / impl)
            counts = res["server"][impl]["counts"]
            log(f"  median {res['server'][impl]['median']:.3f}s, "
                f"{statistics.median(sum(c.values()) for c in counts):.0f} requests/cycle")
    finally:
        proxy.stop()
        server.stop()
    return res


def bench_lookups(r: Runner, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {"sqlite": {}, "server": {}, "generate_s": {}}
    d = r.build / "lookups"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    db = d / "mlflow.db"
    done = 0
    for size in args.sizes:
        log(f"history: generating cycles {done}..{size - 1}")
        res["generate_s"][size] = history.generate(db, "lookup", done, size)
        done = size
        for impl in IMPLS:
            cfg = {"mode": "lookups", "uri": f"sqlite:///{db}", "experiment": "lookup", "reps": args.reps,
                   "delete_own_run": True}
            if impl == "ours" and size == max(args.sizes):
                cfg["profile"] = str(r.build / "profiles" / f"ours-lookups-sqlite-{size}.txt")
            res["sqlite"].setdefault(impl, {})[size] = r.driver(impl, cfg, d / impl)
        server = Server(db, d / "artifacts", d / f"server-{size}.log")
        try:
            for impl in IMPLS:
                cfg = {"mode": "lookups", "uri": f"http://127.0.0.1:{server.port}", "experiment": "lookup",
                       "reps": args.reps, "delete_own_run": True}
                res["server"].setdefault(impl, {})[size] = r.driver(impl, cfg, d / impl)
        finally:
            server.stop()
        summary = ", ".join(f"{impl} {res['sqlite'][impl][size]['median']['get_prev_resource_version'] * 1000:.0f}"
                            f"/{res['server'][impl][size]['median']['get_prev_resource_version'] * 1000:.0f} ms"
                            for impl in IMPLS)
        log(f"  {size} cycles: get_prev_resource_version sqlite/server: {summary}")
    return res


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
    return {"os": platform.platform(), "cpu": cpu, "cores": str(os.cpu_count()), "memory": mem,
            "python": platform.python_version(), "mlflow": version("mlflow"),
            "sqlalchemy": version("sqlalchemy")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions per look-up")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 1000, 10000])
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--plot", type=Path, default=HERE / "lookup_latency.png")
    ap.add_argument("--skip-cycles", action="store_true", help="reuse build/bench/results.json cycles")
    args = ap.parse_args()
    t0 = time.time()
    args.build.mkdir(parents=True, exist_ok=True)
    (args.build / "profiles").mkdir(exist_ok=True)
    legacy_python = legacy_setup.ensure(args.build)
    r = Runner(args.build, legacy_python)
    results_path = args.build / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.exists() else {}
    results: dict[str, Any] = {"machine": machine(), "args": {"cycles": args.cycles, "reps": args.reps,
                                                              "sizes": args.sizes}}
    results["cycles"] = previous["cycles"] if args.skip_cycles and "cycles" in previous else bench_cycles(r, args)
    results_path.write_text(json.dumps(results, indent=1, default=str))
    results["lookups"] = bench_lookups(r, args)
    results["elapsed_s"] = time.time() - t0
    results["profiles"] = {p.stem: p.read_text() for p in sorted((args.build / "profiles").glob("*.txt"))}
    results_path.write_text(json.dumps(results, indent=1, default=str))
    report.plot(results, args.plot)
    args.out.write_text(report.render(results, args.plot.relative_to(ROOT) if args.plot.is_relative_to(ROOT)
                                      else args.plot))
    log(f"wrote {args.out} and {args.plot} in {results['elapsed_s']:.0f}s")


if __name__ == "__main__":
    main()
