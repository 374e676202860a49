"""Run one implementation of the workload in its own process and print a JSON result.

    python driver.py '{"impl": "ours"|"batched"|"legacy"|"raw_native"|"raw", "mode": "cycles"|"lookups",
                       ...}'

``ours`` is this repo's tracker in its default ``mlflow_write_mode: "immediate"``, ``batched`` the
same tracker with ``mlflow_write_mode: "batched"``; ``raw_native`` and ``raw`` are the two raw
MlflowClient floors (``raw_floor.py``: with and without lolpop's MLflow-native records). It runs
under lolpop's venv (``ours``, ``batched``, the floors) or the throwaway venv holding lolpop 0.2.0
(``legacy``), so it only imports stdlib, mlflow and the implementation being measured.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The repository root, for the counting proxy's client (tests/support/http_proxy.py, stdlib only:
# this also runs under the throwaway venv holding lolpop 0.2.0).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import workload as W  # noqa: E402
from tests.support.http_proxy import fetch_counts  # noqa: E402


# ---------------------------------------------------------------------------------------------
# implementations: make(cfg) -> object with the seed methods; stop via .stop()
# ---------------------------------------------------------------------------------------------
class _QuietLogger:
    """The logger/notifier lolpop 0.2.0 wants in ``dependent_integrations``; drops messages."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def notify(self, *args: Any, **kwargs: Any) -> None:
        pass


#: The raw MlflowClient floors (``raw_floor.py``): they run the workload themselves.
RAW = ("raw", "raw_native")


def make_tracker(cfg: dict[str, Any]) -> Any:
    impl = cfg["impl"]
    if impl in ("ours", "batched"):
        from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

        conf = {"mlflow_tracking_uri": cfg["uri"], "mlflow_experiment_name": cfg["experiment"]}
        if impl == "batched":
            conf["mlflow_write_mode"] = "batched"
        return MLFlowMetadataTracker(conf=conf)
    if impl == "legacy":
        from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

        quiet = _QuietLogger()
        return MLFlowMetadataTracker(
            conf={"config": {"mlflow_tracking_uri": cfg["uri"], "mlflow_experiment_name": cfg["experiment"]}},
            is_standalone=True,
            dependent_integrations={"component": {"logger": quiet, "notifier": quiet}},
        )
    if impl in RAW:
        from raw_floor import RawFloor, RawNativeFloor

        floor = RawNativeFloor if impl == "raw_native" else RawFloor
        return floor(cfg["uri"], cfg["experiment"], cfg.get("artifact_location"))
    raise SystemExit(f"unknown impl {impl!r}")


def one_cycle(cfg: dict[str, Any], files: dict[str, str], cycle: int, step: W.Step = W.plain_step) -> Any:
    tracker = step("construct", make_tracker, cfg)
    if cfg["impl"] in RAW:
        out = tracker.run_cycle(files, step, cycle)
    else:
        out = W.run_cycle(tracker, files, step, cycle)
    step("stop", tracker.stop)
    return out


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


class PhaseTimer:
    """The ``step`` of the timed cycles: times each call with two ``perf_counter`` reads and adds
    it to the call's phase (``workload.phase_of``). It sends nothing and asks nothing (no request,
    no counting-proxy snapshot), so a timed cycle makes the same requests as with ``plain_step``."""

    def __init__(self) -> None:
        self.phases = dict.fromkeys(W.PHASES, 0.0)
        self.calls = 0

    def __call__(self, label: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        phase = W.phase_of(label)
        self.calls += 1
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.phases[phase] += time.perf_counter() - t0


def step_overhead(n: int = 2000) -> float:
    """What :class:`PhaseTimer` adds to one call, in seconds: a no-op called through it vs directly
    (best of 3 runs of ``n`` calls each)."""
    def noop() -> None:
        return None

    timer, best = PhaseTimer(), float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            noop()
        t1 = time.perf_counter()
        for _ in range(n):
            timer("get_tag", noop)
        t2 = time.perf_counter()
        best = min(best, ((t2 - t1) - (t1 - t0)) / n)
    return max(best, 0.0)


def mode_cycles(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run ``warmup`` + ``cycles`` cycles; per timed cycle its wall time, its requests (snapshots of
    the counting proxy before and after the cycle, outside the timed interval) and its time per
    phase (:class:`PhaseTimer`). ``breakdown``: one more cycle counting requests per call;
    ``profile``: one more under pyinstrument."""
    files = W.make_files(tempfile.mkdtemp(prefix="bench-files-"))
    counts_url = cfg.get("counts_url")
    times, counts, phases, summary = [], [], [], None
    step_calls = 0
    first = cfg.get("first_cycle", 0)
    for cycle in range(first, first + cfg.get("warmup", 1) + cfg.get("cycles", 5)):
        before = fetch_counts(counts_url) if counts_url else {}
        timer = PhaseTimer()
        t0 = time.perf_counter()
        out = one_cycle(cfg, files, cycle, timer)
        elapsed = time.perf_counter() - t0
        if cycle >= first + cfg.get("warmup", 1):
            times.append(elapsed)
            phases.append({**timer.phases, W.BETWEEN: elapsed - sum(timer.phases.values())})
            step_calls = timer.calls
            if counts_url:
                counts.append(_diff(fetch_counts(counts_url), before))
        summary = {"n_experiments": len(out["experiments"]), "vc": out["vc"],
                   "n_metadata": sum(m is not None for m in out["metadata"]),
                   "n_tags": sum(t is not None for t in out["tags"]),
                   "deployed": out["deployed"] is not None, "prev_dv": out["prev_dv"] is not None}
    result: dict[str, Any] = {"times": times, "median": statistics.median(times) if times else None, "counts": counts,
                              "summary": summary, "phases": phases}
    if times:
        result["step_calls"] = step_calls
        result["step_overhead_s"] = step_overhead()
    if counts_url and cfg.get("breakdown"):
        per_call: dict[str, dict[str, Any]] = {}

        def step(label: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
            before = fetch_counts(counts_url)
            value = fn(*args, **kwargs)
            d = _diff(fetch_counts(counts_url), before)
            entry = per_call.setdefault(label, {"calls": 0, "requests": {}})
            entry["calls"] += 1
            for k, v in d.items():
                entry["requests"][k] = entry["requests"].get(k, 0) + v
            return value

        one_cycle(cfg, files, 99, step)
        result["breakdown"] = per_call
    if cfg.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        one_cycle(cfg, files, 100)
        profiler.stop()
        Path(cfg["profile"]).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return result


LOOKUPS = ("get_prev_resource_version", "get_currently_deployed_model_version", "get_latest_model_resource")
#: The same three look-ups whose answer is "none" (issue 21, item 2): the previous version of an id
#: no history run holds, the deployed version of a model never deployed, the prediction job of a
#: model that has none. The version index built with its experiment answers these without a search.
NONE_LOOKUPS = tuple(f"none:{name}" for name in LOOKUPS)
ALL_LOOKUPS = LOOKUPS + NONE_LOOKUPS
PREDICTIONS = f"{W.MODEL_VERSION}_predictions"
NEW_DATASET_VERSION = "new_data"          # in no history run
NEW_MODEL_VERSION = "never_deployed_model"  # in no history run: never deployed, no prediction job
NEW_PREDICTIONS = f"{NEW_MODEL_VERSION}_predictions"


def _found(res: Any) -> Any:
    """The run a look-up answered (``None`` for no answer): ``(id, run)`` pairs, 0.2.0's
    ``get_latest_model_resource`` nesting one in the other, or a bare run (the raw floor)."""
    while isinstance(res, tuple):
        res = res[1]
    return res


class _Counter:
    """Replaces ``obj.<name>`` with a wrapper that counts calls and still calls the real method."""

    def __init__(self, obj: Any, name: str) -> None:
        self.n = 0
        real = getattr(obj, name)

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return real(*args, **kwargs)

        setattr(obj, name, counting)


def mode_lookups(cfg: dict[str, Any]) -> dict[str, Any]:
    """Time the three look-ups into history from a fresh workflow run (median of ``reps``), each
    once for an id with versions and once for an id without (``none:<look-up>``: answer ``None``).

    For ours it also counts, during the timed calls, the tracker's ``runs/search`` calls
    (``RunStore.search``: 0 = answered from the version index) and its client's reads, and checks
    each answer against the search the look-up replaces (``Lookups.search``: ``same_as_search``).
    """
    reps = cfg.get("reps", 7)
    tracker = make_tracker(cfg)
    times: dict[str, list[float]] = {name: [] for name in ALL_LOOKUPS}
    found: dict[str, Any] = {}
    dv_id, mv_id = W.DATASET_VERSION, W.MODEL_VERSION
    new_dv_id, new_mv_id = NEW_DATASET_VERSION, NEW_MODEL_VERSION
    ours = cfg["impl"] in ("ours", "batched")
    if cfg["impl"] in RAW:
        # the raw floors: exactly the one search each look-up needs, timed on its own
        from raw_floor import _search

        st, eid = tracker.run.info.start_time, tracker.experiment_id
        calls = {"get_prev_resource_version": lambda: _search(tracker.client, eid, st, [f"tags.`{dv_id}.exists` = 'True'"]),
                 "get_currently_deployed_model_version": lambda: _search(
                     tracker.client, eid, st, [f"tags.`{mv_id}.exists` = 'True'", f"tags.`{mv_id}.status` = 'DEPLOYED'"]),
                 "get_latest_model_resource": lambda: _search(
                     tracker.client, eid, st, [f"tags.`{PREDICTIONS}.exists` = 'True'"]),
                 "none:get_prev_resource_version": lambda: _search(
                     tracker.client, eid, st, [f"tags.`{new_dv_id}.exists` = 'True'"]),
                 "none:get_currently_deployed_model_version": lambda: _search(
                     tracker.client, eid, st,
                     [f"tags.`{new_mv_id}.exists` = 'True'", f"tags.`{new_mv_id}.status` = 'DEPLOYED'"]),
                 "none:get_latest_model_resource": lambda: _search(
                     tracker.client, eid, st, [f"tags.`{NEW_PREDICTIONS}.exists` = 'True'"])}
    else:
        dv = tracker.create_resource(dv_id, type="dataset_version")
        mv = tracker.create_resource(mv_id, type="model_version")
        new_dv = tracker.create_resource(new_dv_id, type="dataset_version")
        new_mv = tracker.create_resource(new_mv_id, type="model_version")
        calls = {"get_prev_resource_version": lambda: tracker.get_prev_resource_version(dv),
                 "get_currently_deployed_model_version": lambda: tracker.get_currently_deployed_model_version(mv),
                 "get_latest_model_resource": lambda: tracker.get_latest_model_resource(mv, "prediction_job"),
                 "none:get_prev_resource_version": lambda: tracker.get_prev_resource_version(new_dv),
                 "none:get_currently_deployed_model_version":
                     lambda: tracker.get_currently_deployed_model_version(new_mv),
                 "none:get_latest_model_resource": lambda: tracker.get_latest_model_resource(new_mv, "prediction_job")}
    counters: dict[str, Any] = {}
    if ours:
        counters = {"search": _Counter(tracker._store, "search"),
                    "client.search_runs": _Counter(tracker._store.client, "search_runs"),
                    "client.get_experiment": _Counter(tracker._store.client, "get_experiment"),
                    "client.get_run": _Counter(tracker._store.client, "get_run")}
    counts: dict[str, dict[str, int]] = {}
    for name, call in calls.items():
        call()  # warm-up
        before = {k: c.n for k, c in counters.items()}
        for _ in range(reps):
            t0 = time.perf_counter()
            res = call()
            times[name].append(time.perf_counter() - t0)
        if ours:
            counts[name] = {k: c.n - before[k] for k, c in counters.items()}
        run = _found(res)
        found[name] = None if run is None else {"run_id": run.info.run_id, "start_time": run.info.start_time,
                                                "run_name": run.info.run_name}
    result: dict[str, Any] = {"median": {k: statistics.median(v) for k, v in times.items()}, "times": times,
                              "found": found, "reps": reps}
    if ours:
        # What the search each look-up replaces answers (outside the counted, timed calls).
        from lolpop.component.metadata_tracker._lookups import deployed_clause

        lk = tracker._lookups
        before_run = tracker._store.get_run(tracker.run.info.run_id)
        searched = {
            "get_prev_resource_version": lk.search(dv_id, 1, before=before_run),
            "get_currently_deployed_model_version": lk.search(mv_id, 1, [deployed_clause(mv_id)], before=before_run),
            "get_latest_model_resource": lk.search(PREDICTIONS, 1, before=before_run, include_before=True),
            "none:get_prev_resource_version": lk.search(new_dv_id, 1, before=before_run),
            "none:get_currently_deployed_model_version": lk.search(
                new_mv_id, 1, [deployed_clause(new_mv_id)], before=before_run),
            "none:get_latest_model_resource": lk.search(NEW_PREDICTIONS, 1, before=before_run, include_before=True),
        }
        result["searches"] = {name: counts[name]["search"] for name in ALL_LOOKUPS}
        result["client_calls"] = counts
        result["search_answer"] = {name: runs[0].info.run_id if runs else None for name, runs in searched.items()}
        result["same_as_search"] = {name: (found[name] or {}).get("run_id") == result["search_answer"][name]
                                    for name in ALL_LOOKUPS}
    if cfg.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(5):
            for call in calls.values():
                call()
        profiler.stop()
        Path(cfg["profile"]).write_text(profiler.output_text(unicode=False, color=False))
    if ours:
        # KILLED: a FINISHED stop() would index this run, which is deleted next; the index would
        # then name a deleted run and every later look-up on this store would search.
        tracker.stop(status="KILLED")
    else:
        tracker.stop()
    if cfg.get("delete_own_run"):
        # keep the generated history pure for the next implementation / size
        tracker.client.delete_run(tracker.run.info.run_id)
    return result


RESULT = "@@RESULT@@ "


def serve() -> None:
    """Long-lived mode: one JSON job per stdin line, one ``@@RESULT@@ {json}`` line back.

    run.py keeps one such process per implementation, so cycles of the three implementations
    can be interleaved (fair under a fluctuating machine load) and nothing pays interpreter and
    import start-up more than once.
    """
    for line in sys.stdin:
        if not line.strip():
            continue
        cfg = json.loads(line)
        try:
            result = {"ok": {"cycles": mode_cycles, "lookups": mode_lookups}[cfg["mode"]](cfg)}
        except Exception as exc:  # report, keep serving
            import traceback

            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        sys.stdout.write(RESULT + json.dumps(result, default=str) + "\n")
        sys.stdout.flush()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("lolpop").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    if sys.argv[1] == "--serve":
        serve()
        return
    cfg = json.loads(sys.argv[1])
    result = {"cycles": mode_cycles, "lookups": mode_lookups}[cfg["mode"]](cfg)
    out = cfg.get("out")
    text = json.dumps(result, default=str)
    if out:
        Path(out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
