"""One model version with many experiments (a hyper-parameter search): the time of
``build_model_lineage`` and ``stop()`` at 100 and 1 000 experiments (issue 21, item 5: at most
1.5× at 1 000 what they cost at 100).

Per count: a fresh store and a fresh tracker (immediate write mode, the default); a dataset
version with version-control info; a model version; N experiments, each
``create_resource(type="experiment", parent=mv)``, ``log_metadata(exp, "params", {5 params})``,
``clean_resource(exp)`` (all ended before the lineage is built, as a search does); then the timed
calls ``build_model_lineage(mv, [dv])`` and ``stop()``. Each count is measured ``--reps`` times
(counts interleaved) and the median shown. On the server every request goes through
the counting proxy (``tests/support/http_proxy.py``), so the requests each timed call sent are
reported too; on SQLite the tracker's MLflow client calls are counted.

    python benchmarks/many_experiments.py [--counts 100,1000] [--backends sqlite,server] [--reps 3]
        [--build build/bench-many] [--profile] [--json FILE]

Ratios come from one run (the counts are measured in the same process, one after the other).
``benchmarks/run.py`` (``make bench``) runs it too (:func:`measure`, SQLite and server, 100 and
1 000) and ``report.py`` puts :func:`render`'s table in BENCHMARKS.md; ``--skip-many`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the server and proxy helpers shared with the tests

from tests.support.http_proxy import HttpProxy, fetch_counts  # noqa: E402
from tests.support.mlflow_server import sqlite_server  # noqa: E402

TARGET = 1.5  # issue 21, item 5: cost at 1 000 experiments ≤ 1.5× cost at 100
N_PARAMS = 5
TIMED = ("build_model_lineage", "stop")
#: The tracker's MLflow client calls counted on SQLite (no HTTP there to count).
CLIENT_CALLS = ("log_batch", "log_inputs", "create_run", "update_run", "get_run", "search_runs",
                "log_artifact", "search_experiments", "get_experiment")


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


class _ClientCounter:
    """Counts calls of the tracker's ``MlflowClient`` methods (the real ones still run)."""

    def __init__(self, client: Any) -> None:
        self.counts: dict[str, int] = {}
        for name in CLIENT_CALLS:
            real = getattr(client, name, None)
            if real is None:
                continue

            def counting(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                self.counts[_name] = self.counts.get(_name, 0) + 1
                return _real(*args, **kwargs)

            setattr(client, name, counting)

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


def one(uri: str, experiment: str, n: int, counts_url: str | None, profile: Path | None,
        data_file: str) -> dict[str, Any]:
    """Set up ``n`` experiments under one model version; time build_model_lineage and stop()
    (with ``profile``: a pyinstrument profile of each into that folder; profiling adds time)."""
    from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

    tracker = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment})
    counter = _ClientCounter(tracker._store.client)
    t = time.perf_counter()
    dv = tracker.create_resource("train_data", type="dataset_version")
    tracker.register_vc_resource(dv, {"uri": data_file, "hexsha": "a" * 40})
    mv = tracker.create_resource("search_model", type="model_version")
    for i in range(n):
        exp = tracker.create_resource(f"trial_{i}", type="experiment", parent=mv)
        tracker.log_metadata(exp, "params", {f"p{j}": i * 0.01 + j for j in range(N_PARAMS)})
        tracker.clean_resource(exp)
    setup_s = time.perf_counter() - t
    out: dict[str, Any] = {"n": n, "setup_s": setup_s, "seconds": {}, "requests": {}, "client_calls": {}}
    for name, call in (("build_model_lineage", lambda: tracker.build_model_lineage(mv, [dv])),
                       ("stop", tracker.stop)):
        profiler = None
        if profile is not None:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        before_http = fetch_counts(counts_url) if counts_url else {}
        before_client = counter.snapshot()
        t0 = time.perf_counter()
        call()
        out["seconds"][name] = time.perf_counter() - t0
        out["client_calls"][name] = _diff(counter.snapshot(), before_client)
        if counts_url:
            out["requests"][name] = _diff(fetch_counts(counts_url), before_http)
        if profiler is not None:
            profiler.stop()
            (profile / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False))
    return out


def _ms(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 10 else f"{s:.1f} s"


def render(results: dict[str, Any]) -> str:
    counts = results["counts"]
    lo, hi = min(counts), max(counts)
    lines = [f"| backend | call | {lo} experiments | {hi} experiments | {hi} / {lo} | target ≤ {TARGET:g}× | "
             f"requests ({lo} → {hi}) |", "|---|---|---:|---:|---:|:---:|---|"]
    for backend, per in results["backends"].items():
        a, b = per[str(lo)], per[str(hi)]
        for name in TIMED:
            r = b["seconds"][name] / a["seconds"][name]
            req = ("requests" if b["requests"] else "client calls")
            ca = a["requests"].get(name) if a["requests"] else a["client_calls"].get(name)
            cb = b["requests"].get(name) if b["requests"] else b["client_calls"].get(name)
            lines.append(f"| {backend} | `{name}` | {_ms(a['seconds'][name])} | {_ms(b['seconds'][name])} | "
                         f"{r:.2f}× | {'yes' if r <= TARGET else '**no**'} | {req}: {sum((ca or {}).values())} → "
                         f"{sum((cb or {}).values())} ({', '.join(f'{k} {v}' for k, v in sorted((cb or {}).items()))}) |")
    return "\n".join(lines)


def measure(build: Path, counts: list[int], backends: list[str], profile_calls: bool = False,
            reps: int = 3) -> dict[str, Any]:
    """Time the calls at each count on each backend, ``reps`` times (a fresh store each), the
    counts interleaved so machine load hits them alike; the median is reported
    (``benchmarks/run.py`` calls this too)."""
    build = build.resolve()
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    data_file = build / "train.csv"
    data_file.write_text("a,b\n1,2\n")
    results: dict[str, Any] = {"counts": counts, "reps": reps, "backends": {}, "load": [os.getloadavg()]}
    for backend in backends:
        runs: dict[str, list[dict[str, Any]]] = {str(n): [] for n in counts}
        for r in range(reps):
            for n in counts:
                d = build / backend / f"{n}-{r}"
                d.mkdir(parents=True)
                profile = d if profile_calls else None
                if backend == "sqlite":
                    out = one(f"sqlite:///{d / 'mlflow.db'}", "many", n, None, profile, str(data_file))
                else:
                    server = sqlite_server(d / "mlflow.db", d / "artifacts", d / "server.log",
                                           inherit_mlflow_env=False).start()
                    proxy = HttpProxy(server.url)
                    try:
                        out = one(proxy.url, "many", n, proxy.url, profile, str(data_file))
                    finally:
                        proxy.close()
                        server.stop()
                runs[str(n)].append(out)
                print(f"[many] {backend} {n} experiments: setup {out['setup_s']:.1f} s, "
                      + ", ".join(f"{k} {_ms(v)}" for k, v in out["seconds"].items()), flush=True)
        per: dict[str, Any] = {}
        for n, outs in runs.items():
            # the median time per call; requests are the same every time (the last run's shown)
            per[n] = {**outs[-1], "seconds": {name: statistics.median(o["seconds"][name] for o in outs)
                                              for name in TIMED},
                      "all_seconds": {name: [o["seconds"][name] for o in outs] for name in TIMED}}
        results["backends"][backend] = per
    results["load"].append(os.getloadavg())
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", type=lambda s: [int(x) for x in s.split(",")], default=[100, 1000])
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["sqlite", "server"])
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "bench-many")
    ap.add_argument("--profile", action="store_true", help="pyinstrument profiles of the timed calls")
    ap.add_argument("--reps", type=int, default=3, help="fresh stores per count (median reported)")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    results = measure(args.build, args.counts, args.backends, args.profile, args.reps)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(render(results))
    print(f"load average (1/5/15 min) at start {results['load'][0]}, at end {results['load'][1]}")


if __name__ == "__main__":
    main()
