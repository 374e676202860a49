"""Render ``BENCHMARKS.md`` and the look-up latency plot from ``build/bench/results.json``.

Every number in the report comes from that file (one ``make bench`` run); the prose around the
numbers only names mechanisms, and where it compares it computes the comparison.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

import cli_latency
import workload as W

IMPLS = ("ours", "batched", "legacy", "raw_native", "raw")
OURS = ("ours", "batched")
#: The floor "ours vs floor" compares with: the raw floor writing lolpop's MLflow-native records too
#: (issue 21); ``raw`` (the seed records only) keeps its row for history.
FLOOR = "raw_native"
SEED_FLOOR = "raw"
NAMES = {"ours": "ours (immediate)", "batched": "ours (batched)", "legacy": "lolpop 0.2.0",
         "raw_native": "raw floor (native records)", "raw": "raw floor (seed records)"}
SHORT = {"ours": "immediate", "batched": "batched", "raw_native": "native floor", "raw": "seed floor"}
LOOKUPS = ("get_prev_resource_version", "get_currently_deployed_model_version", "get_latest_model_resource")
LOOKUP_CALLS = {
    "get_prev_resource_version": "`get_prev_resource_version(dv)`",
    "get_currently_deployed_model_version": "`get_currently_deployed_model_version(mv)`",
    "get_latest_model_resource": "`get_latest_model_resource(mv, \"prediction_job\")`",
}
#: The same look-ups answering "none" (issue #21, item 2; ``driver.NONE_LOOKUPS``): an id no history
#: run holds, a model never deployed, a model without prediction jobs.
NONE_LOOKUPS = tuple(f"none:{k}" for k in LOOKUPS)
ALL_LOOKUPS = LOOKUPS + NONE_LOOKUPS
NONE_CALLS = {
    "none:get_prev_resource_version": "`get_prev_resource_version(new_dv)` (an id in no earlier run)",
    "none:get_currently_deployed_model_version": "`get_currently_deployed_model_version(new_mv)` (never deployed)",
    "none:get_latest_model_resource": "`get_latest_model_resource(new_mv, \"prediction_job\")` (no prediction job)",
}
_NONE_WHY = {"none:get_prev_resource_version": "no earlier version",
             "none:get_currently_deployed_model_version": "never deployed",
             "none:get_latest_model_resource": "no prediction job"}
BACKENDS = {"sqlite": "SQLite file store", "server": "mlflow server (SQLite, 1 worker)"}
SAME_CODE = "same look-up code as immediate"

#: Issue #12's targets.
LOOKUP_GROWTH = 1.25   # each look-up at 10 000 and 100 000 cycles ≤ 1.25× its time at 100
BATCHED_REQUESTS = 1.1  # batched: requests per cycle ≤ 1.1× the raw floor (FLOOR: same records)
BATCHED_WALL = 0.15     # batched: wall time per cycle ≤ 0.15× lolpop 0.2.0
#: Seed write calls that make more than one write request by design
#: (tests/component/metadata_tracker/test_request_budget.py, DOCUMENTED).
DOCUMENTED = ("build_model_lineage", "stop")
#: Calls of the cycle that are not seed write calls (construction, reads, the floor's searches).
NOT_WRITES = ("construct", "lookups (2 searches)")


def _ms(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _n(size: int) -> str:
    return f"{size:,}".replace(",", " ")


def _ep(endpoint: str) -> str:
    return endpoint.split("/api/2.0/")[-1]


def is_read(endpoint: str) -> bool:
    """A request that reads: any GET, or a ``…/search`` POST."""
    return endpoint.startswith("GET ") or endpoint.split("?")[0].endswith("/search")


def requests_per_cycle(res: dict[str, Any]) -> dict[str, float]:
    """Median request count per endpoint, and ``total``."""
    counts = res["counts"]
    keys = sorted({k for c in counts for k in c})
    out = {k: statistics.median(c.get(k, 0) for c in counts) for k in keys}
    out["total"] = statistics.median(sum(c.values()) for c in counts)
    return out


def lookup_label(lookup: str) -> str:
    """A look-up's name in the tables: the method, and for a "none" look-up why it answers none."""
    if lookup.startswith("none:"):
        return f"`{lookup[5:]}` → none ({_NONE_WHY[lookup]})"
    return f"`{lookup}`"


def lookups_of(lk: dict[str, Any]) -> tuple[str, ...]:
    """The look-ups timed in a run (results from before the "none" look-ups have only three)."""
    ours = next(iter(lk["sqlite"]["ours"].values()))
    return tuple(k for k in ALL_LOOKUPS if k in ours["median"])


def _get(d: dict[Any, Any], size: int) -> Any:
    return d[str(size)] if str(size) in d else d[size]


#: Implementations whose look-ups are another's, unless timed themselves: the batched tracker runs
#: the same look-up code as the immediate one (the write mode only changes when writes are sent),
#: the native floor the same searches as the seed floor.
REUSED = {"batched": ("ours", SAME_CODE), "raw_native": ("raw", "same searches")}


def _lk(lk: dict[str, Any], backend: str, impl: str) -> tuple[dict[Any, Any], str | None]:
    """Look-up results of ``impl``, and ``None`` or, when they are another implementation's
    (:data:`REUSED`), why."""
    if impl in lk[backend]:
        return lk[backend][impl], None
    source, why = REUSED[impl]
    return lk[backend][source], why


def cycle_impls(cyc: dict[str, Any]) -> tuple[str, ...]:
    """The implementations whose cycles a run measured (results from before the native floor lack it)."""
    return tuple(i for i in IMPLS if i in cyc["server"])


def floor_of(cyc: dict[str, Any]) -> str:
    """The floor "ours vs floor" compares with in a run: :data:`FLOOR`, else (older results) the seed floor."""
    return FLOOR if FLOOR in cyc["server"] else SEED_FLOOR


def _lookup_impls(lk: dict[str, Any], backend: str) -> tuple[str, ...]:
    return tuple(i for i in IMPLS if i in lk[backend])


def target_sizes(sizes: list[int]) -> list[int]:
    """The history sizes the look-up targets are checked at: 10 000 and up (issue #12), or the
    largest one when the run had no such size (``--quick``)."""
    lo = min(sizes)
    big = [s for s in sizes if s >= 10000 and s != lo]
    return big or [s for s in sizes if s != lo][-1:]


# ------------------------------------------------------------------------------------------
# plot
# ------------------------------------------------------------------------------------------
def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    lk, cyc = results["lookups"], results["cycles"]
    fig, axes = plt.subplots(2, len(LOOKUPS) + 1, figsize=(21, 9.5),
                             gridspec_kw={"width_ratios": [1] * len(LOOKUPS) + [0.85]})
    styles = {"ours": ("tab:green", "o", "-"), "batched": ("tab:olive", "D", "-"),
              "legacy": ("tab:red", "s", "--"), "raw_native": ("tab:cyan", "v", ":"),
              "raw": ("tab:blue", "^", ":")}
    timed = lookups_of(lk)
    for row, backend in enumerate(BACKENDS):
        top = max(_get(lk[backend][i], s)["median"][k] for i in _lookup_impls(lk, backend)
                  for s in results["args"]["sizes"] for k in timed) * 1000
        bottom = min(_get(lk[backend][i], s)["median"][k] for i in _lookup_impls(lk, backend)
                     for s in results["args"]["sizes"] for k in timed) * 1000
        for col, lookup in enumerate(LOOKUPS):
            ax = axes[row][col]
            for impl in _lookup_impls(lk, backend):
                data = lk[backend][impl]
                sizes = sorted(int(s) for s in data)
                ys = [_get(data, s)["median"][lookup] * 1000 for s in sizes]
                color, marker, ls = styles[impl]
                name = "ours (immediate = batched)" if impl == "ours" else NAMES[impl]
                ax.plot(sizes, ys, ls, color=color, marker=marker, label=name)
                if f"none:{lookup}" in timed:
                    # the same look-up answering "none": same colour, hollow markers, thinner line
                    ys_none = [_get(data, s)["median"][f"none:{lookup}"] * 1000 for s in sizes]
                    ax.plot(sizes, ys_none, ls, color=color, marker=marker, markerfacecolor="none",
                            linewidth=0.8, alpha=0.8, label=f"{name}, answer none")
                if impl == "ours":
                    ax.annotate(f"{ys[-1]:.1f} ms", (sizes[-1], ys[-1]), textcoords="offset points",
                                xytext=(-6, -13), ha="right", fontsize=7, color=color)
                elif impl == "raw":
                    ax.annotate(f"{ys[-1]:.0f} ms", (sizes[-1], ys[-1]), textcoords="offset points",
                                xytext=(-6, 5), ha="right", fontsize=7, color=color)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom / 1.6, top * 1.6)
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_xlabel("finished training cycles of history")
            ax.set_ylabel("median latency (ms)")
            ax.set_title(f"{lookup} (filled: found; hollow: none)\n{BACKENDS[backend]}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            if col == 0:
                ax.legend(fontsize=6, loc="upper left")
        # last column: one training cycle on this backend, wall time per implementation (+ requests)
        ax = axes[row][-1]
        impls = [i for i in IMPLS if i in cyc[backend]]
        ys = [cyc[backend][i]["median"] for i in impls]
        bars = ax.bar(range(len(impls)), ys, 0.6, color=[styles[i][0] for i in impls], edgecolor="black")
        for b, i in zip(bars, impls):
            label = _ms(cyc[backend][i]["median"])
            if backend == "server":
                label += f"\n{requests_per_cycle(cyc['server'][i])['total']:.0f} req"
            ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                        fontsize=7)
        ax.set_xticks(range(len(impls)))
        ax.set_xticklabels([NAMES[i].replace(" (", "\n(") for i in impls], fontsize=7)
        ax.set_ylabel("median wall time per cycle (s)")
        ax.set_ylim(0, max(ys) * 1.25)
        ax.set_title(f"one training cycle\n{BACKENDS[backend]}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Look-up latency vs history size (log–log; ours reads the version index, 0.2.0 and the raw "
                 "floor search), and wall time / requests per training cycle")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def write_calls(breakdown: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per seed write call of a breakdown: write requests per call by endpoint."""
    out = {}
    for label, e in breakdown.items():
        if label.startswith("get_") or label in NOT_WRITES:
            continue
        out[label] = {k: v / e["calls"] for k, v in e["requests"].items() if not is_read(k)}
    return out


def phase_medians(res: dict[str, Any]) -> dict[str, float] | None:
    """Median over the timed cycles of each phase's time per cycle (``driver.PhaseTimer``), the
    rest of the cycle (:data:`workload.BETWEEN`) and ``total`` (the median wall time); ``None`` for
    results from before the phases were timed."""
    cycles = res.get("phases")
    if not cycles:
        return None
    out = {p: statistics.median(c.get(p, 0.0) for c in cycles) for p in (*W.PHASES, W.BETWEEN)}
    out["total"] = statistics.median(res["times"])
    return out


def _phase_calls() -> str:
    """Which calls make up each phase (``workload.PHASE_OF``), for the text under the table."""
    labels: dict[str, list[str]] = {p: [] for p in W.PHASES}
    for label, phase in W.PHASE_OF.items():
        labels[phase].append(f"`{label}`")
    labels["reads"].insert(0, "every `get_*` call")
    return "; ".join(f"*{p}* = {', '.join(labels[p])}" for p in W.PHASES)


def profile_table(results: dict[str, Any]) -> str:
    """The section "Profile: time per cycle by phase" (issue 21, item 4): per backend, rows = the
    phases + the rest + total, columns = the implementations + batched / floor; "" for results
    from before the phases were timed."""
    cyc = results["cycles"]
    floor = floor_of(cyc)
    impls = [i for i in cycle_impls(cyc) if all(phase_medians(cyc[b][i]) for b in BACKENDS)]
    if not impls:
        return ""
    ratio = "batched" in impls and floor in impls
    L: list[str] = ["## Profile: time per cycle by phase\n"]
    add = L.append
    over = [statistics.median(cyc[b][i]["step_overhead_s"]) for b in BACKENDS for i in impls
            if cyc[b][i].get("step_overhead_s")]
    calls = max((cyc[b][i].get("step_calls", 0) for b in BACKENDS for i in impls), default=0)
    cost = (f" It adds about {max(over) * 1e6:.1f} µs to a call (measured by each driver: a no-op through it vs "
            f"directly), {calls} calls per cycle at most: ≈ {max(over) * calls * 1000:.2f} ms per cycle." if over else "")
    add(f"Time per cycle spent in each phase, median over the {results['args']['cycles']} timed cycles of the wall "
        "time tables (the same cycles, not an extra one): every call of those cycles runs through a timing "
        "`step` (`benchmarks/driver.py`, `PhaseTimer`) that reads `perf_counter` before and after the call "
        "and adds the difference to the call's phase; it sends no request and does not read the counting "
        "proxy (whose counts are taken before and after the whole cycle, outside the timed interval)."
        + cost + "\n")
    for b in BACKENDS:
        med = {i: phase_medians(cyc[b][i]) for i in impls}
        add(f"**{BACKENDS[b]}** (ms per cycle)\n")
        add("| phase | " + " | ".join(NAMES[i] for i in impls)
            + (f" | {NAMES['batched']} / {NAMES[floor]} |" if ratio else " |"))
        add("|---|" + "---:|" * (len(impls) + ratio))
        for p in (*W.PHASES, W.BETWEEN, "total"):
            cells = [f"{med[i][p] * 1000:.1f}" for i in impls]
            if ratio:
                f_, bt = med[floor][p], med["batched"][p]
                cells.append(f"{bt / f_:.2f}×" if f_ > 0 else "—")
            name = f"`{p}()`" if p == "stop" else p
            if p == "total":
                cells, name = [f"**{c}**" for c in cells], "**total**"
            add(f"| {name} | " + " | ".join(cells) + " |")
        add("")
    add(f"The phases (`workload.PHASE_OF`: the `step` labels of the workload, of the raw floors' cycle and of "
        f"the driver): {_phase_calls()}. *{W.BETWEEN}* = the cycle's wall time − its phases (the workload's "
        "own code, the floors' local bookkeeping and the reads they serve locally). *total* = the median wall "
        "time per cycle (the rows' medians need not add up to it). The floors spend their requests where "
        "their calls are: data version = three uploads (their tags are held and sent at `stop()`), "
        "experiments = per experiment `runs/create`, one `log_batch`, an upload and `runs/update`, "
        "lineage = the lineage page (and for the native floor the dataset inputs), status = for the native "
        "floor the registry version and its alias, reads = their two searches.\n")
    return "\n".join(L)


def _eps(requests: dict[str, float]) -> str:
    return ", ".join(f"{_ep(k)} × {v:g}" for k, v in sorted(requests.items())) or "—"


def render(results: dict[str, Any], plot_path: Path) -> str:
    m, cyc, lk = results["machine"], results["cycles"], results["lookups"]
    a = results["args"]
    sizes = a["sizes"]
    lo_s, hi_s = min(sizes), max(sizes)
    tsizes = target_sizes(sizes)
    impls, floor = cycle_impls(cyc), floor_of(cyc)
    req = {impl: requests_per_cycle(cyc["server"][impl]) for impl in impls}
    wall = {b: {impl: cyc[b][impl]["median"] for impl in impls} for b in BACKENDS}
    timed = lookups_of(lk)

    def lat(b: str, impl: str, lookup: str, size: int) -> float:
        return _get(_lk(lk, b, impl)[0], size)["median"][lookup]

    def ours_at(b: str, size: int) -> dict[str, Any]:
        return _get(lk[b]["ours"], size)

    L: list[str] = []
    add = L.append
    add("# Benchmarks: lolpop's MLflow metadata tracker (immediate and batched) vs lolpop 0.2.0 vs raw MLflow\n")
    add("_Generated by `make bench` (`benchmarks/run.py`); do not edit by hand. "
        "All figures come from one run; targets are ratios within that run._\n")
    add("## Machine and command\n")
    cmd = ("`python benchmarks/run.py --quick`" if a.get("quick") else "`make bench`")
    add(f"- Command: {cmd} (= `python benchmarks/run.py --cycles {a['cycles']} --rounds {a.get('rounds', 1)} "
        f"--reps {a['reps']} --sizes {','.join(map(str, sizes))} --cli-runs {a.get('cli_runs', '?')}"
        + (f" --reads-runs {a['reads_runs']}" if "reads_runs" in a else "") + "`), "
        f"total {results.get('elapsed_s', 0):.0f} s")
    add(f"- {m['os']}; CPU: {m['cpu']}, {m['cores']} cores; {m['memory']}")
    add(f"- Load average (1/5/15 min) at start {m.get('load', '?')}, at end {m.get('load_end', '?')} — on a "
        "shared machine absolute times are noisy; cycles of the implementations are interleaved round-robin, "
        "look-ups run in rounds over every history size and implementation (orders rotated), so load hits "
        "all alike, and only ratios within the run are compared.")
    add(f"- Python {m['python']}, MLflow {m['mlflow']} (every implementation), SQLAlchemy {m['sqlalchemy']}; "
        "lolpop 0.2.0 from PyPI in `build/bench/legacy-venv` (same MLflow)")
    add("- Server backend: `mlflow server --backend-store-uri sqlite:///… --artifacts-destination … "
        "--serve-artifacts --workers 1` on 127.0.0.1, with `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` (no "
        "job runner: by default the server starts 8 more processes for MLflow's GenAI scoring / trace "
        "archival jobs, which tracking never uses and whose start-up and polling loaded the 2-core "
        "machine while look-ups were timed), started by the tests' server helper "
        "(`tests/support/mlflow_server.py`). Training cycles send every request through the tests' "
        "counting proxy (`tests/support/http_proxy.py`, stdlib; it adds the same small per-request cost "
        "to all); look-ups talk to the server directly.\n")

    # -- implementations and workload ---------------------------------------------------------
    add("## The implementations and the workload (one training cycle)\n")
    add("Construct the tracker; dataset version (`create_resource`, `register_vc_resource` with uri, "
        "40-hex hexsha and 3 additional metadata items, `log_data_profile`, `log_checks`, "
        "`log_data_comparison`); model version; 10 experiments, each: `create_resource(type=\"experiment\", "
        "parent=mv)`, `log_metadata(exp, \"params\", {20 params})`, 3 scalar `log_metadata`, "
        "`register_vc_resource`, one small `log_artifact`, `clean_resource`; then on the model version "
        "`winning_experiment_id`, `winning_experiment_model_trainer`, `register_vc_resource(..., key=\"train\")`, "
        "`build_model_lineage(mv, [dv])`, `log_tag(mv, \"status\", \"PROMOTED\")`; reads "
        "`get_currently_deployed_model_version`, `get_prev_resource_version(dv)`, `get_winning_experiment`, "
        "`get_vc_info(mv, key=\"train_hexsha\")`, 20 × `get_metadata`, 20 × `get_tag`; `stop()`. "
        "Source: `benchmarks/workload.py`. Wall time = median of "
        f"{a['cycles']} cycles after 1 warm-up, each in a fresh tracker (construction and "
        "`stop()` included). Every implementation writes into its own fresh experiment, so the look-ups "
        "inside a cycle see a history of a few cycles only (look-ups into long histories are measured "
        "separately below).\n")
    add("- **ours (immediate)**: this repo's `MLFlowMetadataTracker` with its defaults "
        "(`mlflow_write_mode: \"immediate\"`: every write call is sent before it returns). Besides the "
        "seed records it writes MLflow-native ones: `build_model_lineage` sends the lineage tags "
        "(`log_batch`), the dataset versions as MLflow dataset inputs of the model version's run and of "
        "each experiment run under it (one `log_inputs` per run: MLflow's `log_batch` cannot carry them) "
        "and the lineage page (an upload); a status change checks the lineage for quarantine (one "
        "`runs/search`), consults the Model Registry (reads) and a "
        "change to `DEPLOYED` adds one `log_batch` to the version index (plus registry requests); "
        "`stop()` sends the run description (`mlflow.note.content`) with the writes still held back in "
        "one `log_batch`, redraws the lineage pages with the final state (the experiments, then a "
        "look-up of what is downstream, then an upload), writes the audit report of the model version "
        "whose status it set (an upload; its reads: the downstream look-up the page made is not made "
        "again, the version before it from the version index as `get_prev_resource_version` finds it, "
        "that version's winning experiment run and its dataset folders for the diff), writes one "
        "`log_batch` of version-index entries to the index run "
        "and ends the run (`runs/update`). The tracker that creates an experiment builds its index at "
        "once (in the warm-up cycle here): `runs/create` + `runs/update` (FINISHED) + the experiment tag "
        "`lolpop.index_run_id` + a `log_batch` with its `lolpop.index.since` tag; that index is complete "
        "(`lolpop.index.complete`). Its look-ups read the version index: `experiments/get` + `runs/get` of "
        "the index run + `runs/get` of the candidate, checked against the version rule; an answer \"none\" "
        "(here `get_currently_deployed_model_version`: no version is ever `DEPLOYED` in these cycles) is "
        "two reads, the complete index holding no entry; when the index has no usable answer they fall "
        "back to the `runs/search` they replace.")
    add("- **ours (batched)**: the same tracker with `mlflow_write_mode: \"batched\"` (default "
        "`mlflow_flush_seconds` 5): writes wait in the tracker and go out together at `clean_resource` of "
        "an experiment, `flush()`, `stop()`, exit, at 100 waiting entries, or once the oldest waits "
        "longer than `mlflow_flush_seconds`. Its look-ups run exactly the same code and requests as the "
        "immediate mode, so look-up latencies were timed once (immediate) and are reported for both.")
    add("- **lolpop 0.2.0** runs the same seed calls (`benchmarks/driver.py` passes the logger/notifier it "
        "wants in `dependent_integrations`, `is_standalone=True`). None of the workload's calls had to be "
        "skipped (the cycle uses no `get_artifact`/`load_model`, which 0.2.0 leaves as `pass` / needs a "
        "trainer class). Its `get_vc_info` returns only the hexsha, its `update_resource` is a no-op (hence "
        "`log_tag` for the status), its `build_model_lineage` writes only the tags (no used-by index, no "
        "lineage page), and with no DEPLOYED version its `get_currently_deployed_model_version` "
        "falls back to up to two more searches (PROMOTED, then any) — that is part of its cost. All its "
        "look-ups are one `runs/search` each (its `get_latest_model_resource` is "
        "`get_prev_resource_version(mv)` with the extra clause `<mv>_predictions.exists = 'True'`).")
    add("- **Raw floor (seed records)** (`benchmarks/raw_floor.py`, `RawFloor`; the floor of earlier "
        "rounds, kept for history): a hand-written MlflowClient script writing the seed "
        "records of the cycle with the fewest requests: workflow-run tags (incl. the used-by index tag) "
        "buffered locally and sent in one `log_batch` before the run is terminated; each experiment = "
        "`runs/create` + one `log_batch` (20 params + its tags) + one artifact upload (artifact repository "
        "built from `run.info.artifact_uri`, so no `runs/get`) + one `runs/update` (the store's "
        "`update_run_info`, not `MlflowClient.set_terminated`, which spends a `runs/get` first); the lineage "
        "page built from what it knows (one upload, no reads); reads of what it wrote served locally; one "
        "`runs/search` per look-up. It writes none of ours' MLflow-native records (dataset inputs, run "
        "description, registry, version index).")
    add("- **Raw floor (native records)** (`RawNativeFloor`, *the* floor the ratios and the request "
        "target compare with, issue #21): the seed floor plus the MLflow-native records ours writes, each "
        "with the fewest requests a careful script spends: the dataset version as an MLflow dataset input "
        "(lolpop's name, digest, source, profile and `training` context) of the model version's run and of "
        "each experiment run in `build_model_lineage` (one `log_inputs` per run, 11); the run description "
        "(`mlflow.note.content`) in the final `log_batch` of the workflow run's tags (no request); at the "
        "status change a Model Registry version of the winning experiment (run, lolpop's version tags, the "
        "model card as its description) and the status's alias (`model-versions/create` + "
        "`registered-models/alias` through the registry client, which spares `MlflowClient`'s "
        "`registered-models/get`; the registered model is created only when that create says it is "
        "missing, once per store); the version-index entries of the run's versions in one `log_batch` to "
        "the experiment's index run (built with the experiment, in the warm-up cycle) before the run ends; "
        "the lineage page once (one upload). Its registered model is `<experiment>.<mv>`, not lolpop's "
        "`<mv>`, so that ours' status changes on the same server never meet its alias. In this workload "
        "ours registers no version (the winning experiment saved no MLflow model, so there is nothing "
        "the registry could serve): at the status change it only reads the registry, while the floor "
        "writes a version and its alias. Its look-ups are the seed floor's searches (not timed again).\n")

    # -- summary ------------------------------------------------------------------------------
    ratio_hdr = " | ".join(f"{SHORT[o]} / 0.2.0 | {SHORT[o]} / {SHORT[floor]}" for o in OURS)
    add("## Four-way summary\n")
    add("| | " + " | ".join(NAMES[i] for i in impls) + f" | {ratio_hdr} |")
    add("|---|" + "---:|" * (len(impls) + 2 * len(OURS)))
    add("| HTTP requests per cycle (server) | " + " | ".join(f"{req[i]['total']:.0f}" for i in impls) + " | "
        + " | ".join(f"{req[o]['total'] / req['legacy']['total']:.2f}× | {req[o]['total'] / req[floor]['total']:.2f}×"
                     for o in OURS) + " |")
    for b in BACKENDS:
        add(f"| wall time per cycle, {BACKENDS[b]} | " + " | ".join(_ms(wall[b][i]) for i in impls) + " | "
            + " | ".join(f"{wall[b][o] / wall[b]['legacy']:.2f}× | {wall[b][o] / wall[b][floor]:.2f}×" for o in OURS)
            + " |")
    for b in BACKENDS:
        for lookup in timed:
            cells = []
            for impl in impls:
                _, reused = _lk(lk, b, impl)
                lo, hi = lat(b, impl, lookup, lo_s), lat(b, impl, lookup, hi_s)
                cells.append(f"= {SHORT[REUSED[impl][0]] if impl in REUSED else impl} ({reused})" if reused
                             else f"{_ms(lo)} → {_ms(hi)} ({hi / lo:.2f}×)")
            add(f"| {lookup_label(lookup)} {_n(lo_s)} → {_n(hi_s)} cycles, {b} | " + " | ".join(cells) + " |"
                + " |" * (2 * len(OURS)))
    add("")

    # -- targets ------------------------------------------------------------------------------
    add("## Targets (issue #12; \"none\" look-ups: issue #21)\n")
    add("| target | measured | met? |")
    add("|---|---:|:---:|")
    wc = write_calls(cyc["server"]["ours"].get("breakdown", {}))
    plain = {k: sum(v.values()) for k, v in wc.items() if k not in DOCUMENTED}
    worst = max(plain, key=lambda k: plain[k]) if plain else None
    if worst is not None:
        over = sorted(k for k, v in plain.items() if v > 1)
        measured = (f"≤ 1 for all {len(plain)}" if not over else
                    "; ".join(f"`{k}`: {plain[k]:g}" for k in over))
        add(f"| immediate: at its durable floor — at most one write request per seed write call "
            f"({len(plain)} kinds of call in the cycle; `build_model_lineage` and `stop()` send more by design, "
            f"see below) | {measured} | {_yes(not over)} |")
    rb = req["batched"]["total"] / req[floor]["total"]
    add(f"| batched: HTTP requests per cycle ≤ {BATCHED_REQUESTS:g}× the {NAMES[floor]} | "
        f"{req['batched']['total']:.0f} / {req[floor]['total']:.0f} = {rb:.2f}× | {_yes(rb <= BATCHED_REQUESTS)} |")
    for b in BACKENDS:
        r = wall[b]["batched"] / wall[b]["legacy"]
        add(f"| batched: wall time per cycle ≤ {BATCHED_WALL:g}× lolpop 0.2.0, {BACKENDS[b]} | "
            f"{_ms(wall[b]['batched'])} / {_ms(wall[b]['legacy'])} = {r:.2f}× | {_yes(r <= BATCHED_WALL)} |")
    for b in BACKENDS:
        for lookup in timed:
            for s in tsizes:
                lo, hi = lat(b, "ours", lookup, lo_s), lat(b, "ours", lookup, s)
                add(f"| {lookup_label(lookup)}: time at {_n(s)} cycles ≤ {LOOKUP_GROWTH:g}× time at {_n(lo_s)}, "
                    f"{BACKENDS[b]} | {_ms(lo)} → {_ms(hi)} = {hi / lo:.2f}× | "
                    f"{_yes(hi / lo <= LOOKUP_GROWTH)} |")
    for b in BACKENDS:
        checks = [(lookup, s) for lookup in timed for s in sizes]
        same = sum(bool(ours_at(b, s).get("same_as_search", {}).get(lookup)) for lookup, s in checks)
        add(f"| same answers as today's search (`Lookups.search`), every look-up and history size, "
            f"{BACKENDS[b]} | {same} of {len(checks)} | {_yes(same == len(checks))} |")
    add("")
    add("The look-up rows are ours (immediate; the batched mode runs the very same look-up code). "
        "\"Same answers\": after the timed calls the driver runs the search each look-up replaces "
        "(`tracker._lookups.search(…)`) and compares run ids; every round must agree. "
        f"Ratios use the median of {a.get('rounds', 1)} rounds × {a['reps']} timed calls per look-up and size.\n")
    doc = {k: v for k, v in wc.items() if k in DOCUMENTED}
    if doc:
        add("Write requests of the calls that send more than one by design (immediate, one cycle; reads "
            "not counted): " + "; ".join(f"`{k}`: {_eps(v)}" for k, v in sorted(doc.items())) + ".\n")

    add("**For comparison (not targets): the same growth ratio** (time at N cycles / time at "
        f"{_n(lo_s)}) for ours and for the search-based look-ups of lolpop 0.2.0 and the raw floor.\n")
    add("| look-up | backend | " + " | ".join(f"{NAMES[i]}, {_n(s)}" for i in ("ours", "legacy", "raw") for s in tsizes)
        + " |")
    add("|---|---|" + "---:|" * (3 * len(tsizes)))
    for b in BACKENDS:
        for lookup in timed:
            add(f"| {lookup_label(lookup)} | {b} | " + " | ".join(
                f"{lat(b, i, lookup, s) / lat(b, i, lookup, lo_s):.2f}×" for i in ("ours", "legacy", "raw")
                for s in tsizes) + " |")
    add("")

    # -- requests by endpoint -----------------------------------------------------------------
    add("## HTTP requests per cycle, by endpoint (mlflow server)\n")
    add("Counted by the proxy, median over the timed cycles; the last row gives min–max over the cycles.\n")
    add("| endpoint | " + " | ".join(NAMES[i] for i in impls) + " | " + " | ".join(f"{SHORT[o]} − {SHORT[floor]}" for o in OURS) + " |")
    add("|---|" + "---:|" * (len(impls) + len(OURS)))
    eps = sorted({k for i in impls for k in req[i] if k != "total"}, key=lambda k: (-max(req[i].get(k, 0) for i in impls), k))
    for ep in eps:
        add(f"| `{ep}` | " + " | ".join(f"{req[i].get(ep, 0):.0f}" for i in impls) + " | "
            + " | ".join(f"{req[o].get(ep, 0) - req[floor].get(ep, 0):+.0f}" for o in OURS) + " |")
    add("| **total** | " + " | ".join(f"**{req[i]['total']:.0f}**" for i in impls) + " | "
        + " | ".join(f"**{req[o]['total'] - req[floor]['total']:+.0f}**" for o in OURS) + " |")
    rng = []
    for i in impls:
        tots = [sum(c.values()) for c in cyc["server"][i]["counts"]]
        rng.append(f"{min(tots)}–{max(tots)}" if tots else "—")
    add("| total, min–max over cycles | " + " | ".join(rng) + " |" + " |" * len(OURS) + "\n")

    add("## Wall time per cycle\n")
    add("| backend | " + " | ".join(NAMES[i] for i in impls) + f" | {ratio_hdr} |")
    add("|---|" + "---:|" * (len(impls) + 2 * len(OURS)))
    for b in BACKENDS:
        add(f"| {BACKENDS[b]} | " + " | ".join(
            f"{_ms(wall[b][i])} (min {_ms(min(cyc[b][i]['times']))}, max {_ms(max(cyc[b][i]['times']))})" for i in impls)
            + " | " + " | ".join(f"{wall[b][o] / wall[b]['legacy']:.2f}× | {wall[b][o] / wall[b][floor]:.2f}×" for o in OURS)
            + " |")
    add("")

    prof = profile_table(results)
    if prof:
        add(prof)

    # -- look-ups -----------------------------------------------------------------------------
    add("## Look-up latency vs history size\n")
    gen_times = ", ".join(f"{_get(lk['generate_s'], s):.1f} s" for s in sizes)
    add("History is generated by `benchmarks/history.py` as this version writes it: N finished workflow runs "
        "(tag `parent_run = True`) with increasing start times, each with the dataset-version, model-version "
        "and prediction-job tags a cycle records (every 10th model version `DEPLOYED`), and the version "
        "index — the index run (`lolpop-index`, `lolpop.index.since` before the first cycle, so every "
        "cycle may be answered from it), the experiment tag naming it, and per cycle the `newest` metric "
        "entries of every id the run is a version of plus the `deployed` entries of the DEPLOYED cycles, "
        "with `latest_metrics` kept as MLflow keeps it. Rows are bulk-inserted into MLflow's own tables "
        f"(generation took {gen_times} for the cumulative {' / '.join(_n(s) for s in sizes)} steps; each "
        "size is a copy of the store at that point). The index run carries `lolpop.index.complete = True` and "
        "starts just after the experiment's creation time, as the index a tracker builds with the experiment "
        "it creates: `lolpop.layout.index.complete` judges it complete, so a look-up whose answer is \"none\" "
        "reads the index and does not search (tests/benchmarks/test_bench_smoke.py checks both). Each "
        "implementation opens a fresh workflow run and "
        f"times each look-up ({', '.join(LOOKUP_CALLS[k] for k in LOOKUPS)}"
        + (f"; and, answering none, {', '.join(NONE_CALLS[k] for k in NONE_LOOKUPS if k in timed)}"
           if any(k in timed for k in NONE_LOOKUPS) else "")
        + f") in {a.get('rounds', 1)} rounds × "
        f"{a['reps']} calls after one warm-up call per round (median of all shown); its own run is then "
        "deleted (ours ends it `KILLED` first, so it is not indexed) and the history stays the same for "
        "the next one. The raw floor runs the one `runs/search` each look-up needs. **ours (batched)** runs "
        "the very same look-up code as ours (immediate), so it was not timed separately.\n")
    add(f"![look-up latency and cycle wall time]({plot_path.as_posix()})\n")
    for b in BACKENDS:
        add(f"**{BACKENDS[b]}**\n")
        add("| look-up | implementation | " + " | ".join(f"{_n(s)} cycles" for s in sizes) + " | "
            + " | ".join(f"{_n(s)} / {_n(lo_s)}" for s in sizes if s != lo_s) + " |")
        add("|---|---|" + "---:|" * (2 * len(sizes) - 1))
        for lookup in timed:
            for impl in impls:
                d, reused = _lk(lk, b, impl)
                if reused:
                    add(f"| {lookup_label(lookup)} | {NAMES[impl]} | " + " | ".join("″" for _ in sizes) + " | "
                        + " | ".join(f"″ ({reused})" if s == hi_s else "″" for s in sizes if s != lo_s) + " |")
                    continue
                vals = [_get(d, s)["median"][lookup] for s in sizes]
                add(f"| {lookup_label(lookup)} | {NAMES[impl]} | " + " | ".join(_ms(v) for v in vals) + " | "
                    + " | ".join(f"{v / vals[0]:.2f}×" for s, v in zip(sizes, vals) if s != lo_s) + " |")
        add("")
        add("Ours, per look-up call during the timed calls (all rounds): requests by the tracker's MLflow "
            "client, and whether the answer was the search's:\n")
        add("| look-up | history | calls | `runs/search` | `experiments/get` | `runs/get` | same as search | found |")
        add("|---|---:|---:|---:|---:|---:|:---:|---|")
        for lookup in timed:
            for s in sizes:
                o = ours_at(b, s)
                cc = o.get("client_calls", {}).get(lookup, {})
                n = o.get("reps", 0) or 1
                found = (o.get("found") or {}).get(lookup) or {}
                agree = all((_get(lk[b][i], s)["found"].get(lookup) or {}).get("run_id") == found.get("run_id")
                            for i in ("legacy", "raw"))
                add(f"| {lookup_label(lookup)} | {_n(s)} | {o.get('reps', 0)} | {cc.get('client.search_runs', 0) / n:g} | "
                    f"{cc.get('client.get_experiment', 0) / n:g} | {cc.get('client.get_run', 0) / n:g} | "
                    f"{_yes(bool(o.get('same_as_search', {}).get(lookup)))} | "
                    f"`{found.get('run_name', '—')}`{'' if agree else ' (**0.2.0 / raw found another run**)'} |")
        add("")

    if "reads" in results:
        import history_reads

        add(history_reads.render(results["reads"]))

    if "many" in results:
        import many_experiments

        many = results["many"]
        lo_n, hi_n = min(many["counts"]), max(many["counts"])
        add(f"## One model version with {lo_n} and {_n(hi_n)} experiments\n")
        add("A hyper-parameter search: one model version, N experiments (`create_resource(type=\"experiment\", "
            "parent=mv)`, `log_metadata(exp, \"params\", {5 params})`, `clean_resource(exp)`), all ended before "
            "the timed `build_model_lineage(mv, [dv])` and `stop()` (immediate mode, a fresh store and tracker "
            f"per measurement, median of {many.get('reps', 1)} per count with the counts interleaved; server "
            "requests counted by the proxy, on SQLite the tracker's MLflow client calls). "
            f"Target (issue #21): each call at {_n(hi_n)} experiments ≤ {many_experiments.TARGET:g}× its time at "
            f"{lo_n}. Source: `benchmarks/many_experiments.py`.\n")
        add(many_experiments.render(many) + "\n")
        add("`build_model_lineage` sends one `log_inputs` per experiment run: MLflow keeps a dataset input "
            "per run and has no request that logs inputs of several runs, and in immediate mode the call "
            "returns once its records are in the store, so the experiments' inputs cannot wait for a later "
            "call. Sending them to a server several at once was measured (200 experiment runs, 4 in flight, "
            "after a first request alone: MLflow creates a dataset's records without a lock, so concurrent "
            "first requests collide): no gain on this 2-core machine with 1 or 4 server workers, on SQLite "
            "or PostgreSQL (the server takes the writes in turn), so they go one after another. What else the two calls did per experiment no longer grows: the lineage page draws at "
            "most 25 experiments, the held runs are grouped by parent in one pass, snapshots of ended runs "
            "are reused, the description formats only what fits.\n")

    if "cli" in results:
        add("## `lolpop` command latency\n")
        add("Reading commands import MLflow only when the store needs it: a tracking server is read over "
            "its REST API with `requests`, an MLflow SQLite file directly with `sqlite3` (read-only, "
            "known schema revisions; anything else goes through `MlflowClient`).\n")
        add(cli_latency.render(results["cli"]))

    for impl in impls:
        bd = cyc["server"][impl].get("breakdown")
        if not bd:
            continue
        add(f"## Requests per seed call — {NAMES[impl]} (mlflow server, one cycle)\n")
        add("| call | calls | requests | per call | by endpoint |")
        add("|---|---:|---:|---:|---|")
        for label, e in sorted(bd.items(), key=lambda kv: -sum(kv[1]["requests"].values())):
            n = sum(e["requests"].values())
            eps = ", ".join(f"{_ep(k)} × {v}" for k, v in sorted(e["requests"].items()))
            add(f"| `{label}` | {e['calls']} | {n} | {n / e['calls']:.1f} | {eps or '—'} |")
        add(f"| **total** | | **{sum(sum(e['requests'].values()) for e in bd.values())}** | | |\n")

    add(analysis(results, req, wall, lat, tsizes, floor))

    profiles = results.get("profiles", {})
    if profiles:
        add("## Profiles (pyinstrument)\n")
        add("Full text in `build/bench/profiles/` after a run; the top of each tree:\n")
        for name, text in profiles.items():
            lines = [ln for ln in text.splitlines() if ln.strip()][:45]
            add(f"<details><summary>{name}</summary>\n\n```\n" + "\n".join(lines) + "\n```\n</details>\n")
    return "\n".join(L) + "\n"


def _prof(profiles: dict[str, str], name: str, func: str) -> str:
    """``"<t> s of <total> s"``: inclusive time of ``func`` (summed over its top-most frames) in a
    profile, for the analysis text; ``"n/a"`` when the profile is missing."""
    text = profiles.get(name)
    if not text:
        return "n/a"
    total = re.search(r"Duration: ([\d.]+)", text)
    t, depth = 0.0, None
    for line in text.splitlines():
        m = re.match(r"^([\s|`\-]*)([\d.]+) (\S+)", line)
        if not m:
            continue
        if depth is not None and len(m.group(1)) <= depth:
            depth = None
        if depth is None and m.group(3) == func:
            t += float(m.group(2))
            depth = len(m.group(1))
    return f"{t:.2f} s of {float(total.group(1)) if total else 0:.2f} s"


def _group(bd: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Requests of a breakdown by call; the look-ups of the cycle taken together, and the calls on
    the experiments (the floor sends an experiment's writes at ``log_metadata(params)``, batched
    at ``clean_resource``)."""
    out: dict[str, dict[str, int]] = {}
    for label, e in bd.items():
        if label.startswith(("get_currently", "get_prev", "lookups")):
            key = "look-ups of the cycle"
        elif "(experiment" in label:
            key = "the 10 experiments (create_resource … clean_resource)"
        else:
            key = label
        acc = out.setdefault(key, {})
        for k, v in e["requests"].items():
            acc[k] = acc.get(k, 0) + v
    return out


def analysis(results: dict[str, Any], req: dict[str, Any], wall: dict[str, Any], lat: Any,
             tsizes: list[int], floor: str = FLOOR) -> str:
    cyc = results["cycles"]["server"]
    profiles = results.get("profiles", {})
    sizes = results["args"]["sizes"]
    lo_s, hi_s = min(sizes), max(sizes)
    L: list[str] = ["## What bounds the tracker\n"]
    add = L.append

    # -- writes
    floors = ", ".join(f"{NAMES[f]} {req[f]['total']:.0f}" for f in (FLOOR, SEED_FLOOR) if f in req)
    add(f"**Requests per cycle: immediate {req['ours']['total']:.0f}, batched {req['batched']['total']:.0f}, "
        f"{floors}, lolpop 0.2.0 {req['legacy']['total']:.0f}.**\n")
    bd_b, bd_r = cyc["batched"].get("breakdown"), cyc[floor].get("breakdown")
    if bd_b and bd_r:
        gb, gr = _group(bd_b), _group(bd_r)
        rows = []
        for label in sorted(set(gb) | set(gr)):
            nb, nr = sum(gb.get(label, {}).values()), sum(gr.get(label, {}).values())
            if nb != nr:
                rows.append((nb - nr, label, gb.get(label, {}), gr.get(label, {})))
        rows.sort(key=lambda r: (-r[0], r[1]))
        add(f"Where the batched mode sends more (or fewer) requests than the {NAMES[floor]}, per call of one "
            "cycle (mlflow server; the look-ups of the cycle taken together, and every call on the experiments):\n")
        add(f"| call | batched | {NAMES[floor]} | difference |")
        add("|---|---|---|---:|")
        for diff, label, b_eps, r_eps in rows:
            add(f"| `{label}` | {sum(b_eps.values())}: {_eps(b_eps)} | {sum(r_eps.values())}: {_eps(r_eps)} | "
                f"{diff:+d} |")
        add(f"| **total** | {sum(sum(v.values()) for v in gb.values())} | {sum(sum(v.values()) for v in gr.values())} | "
            f"**{sum(r[0] for r in rows):+d}** |\n")
        if floor == FLOOR:
            add("* Per experiment and at the writes of the workflow run the batched mode matches the floor "
                "(`runs/create`, the upload, one `log_batch` + `runs/update` at `clean_resource`; the held "
                "workflow-run tags and the run description in one `log_batch` at `stop()`), and so it does "
                "for the MLflow-native records both write: the dataset inputs (one `log_inputs` per run in "
                "`build_model_lineage`) and the version-index `log_batch` at `stop()`. The floor also writes "
                "a registry version and its alias at the status change, which ours does not in this workload "
                "(nothing to serve: it reads the registry instead). The batched mode's excess is reads the "
                "floor does not make and records it draws twice: the Model Registry's reads at the status "
                "change, the lineage page redrawn at `stop()` (with the look-up of what is downstream of the "
                "model version) and the audit report there, the server probe at construction, and look-ups "
                "that read the index (three small reads each; two for `get_currently_deployed_model_version`, "
                "which answers none from the complete index as no version is ever DEPLOYED in these cycles) "
                "where the floor spends one `runs/search`.")
        else:  # results from before the native floor
            add("* Per experiment and at the writes of the workflow run the batched mode matches the floor "
                "(`runs/create`, the upload, one `log_batch` + `runs/update` at `clean_resource`; the held "
                "workflow-run tags in one `log_batch` at `stop()`). Its excess is records the seed floor does "
                "not write (dataset inputs, description, redrawn lineage page, version index) and reads it "
                "does not make.")
        add("* *Immediate* sends one request per write call by contract (durable on return); over the "
            "batched mode it spends the per-call `log_batch` of each `log_metadata` / `register_vc_resource` "
            "/ `create_resource` (see the per-call tables): "
            f"{req['ours']['total'] - req['batched']['total']:+.0f} requests per cycle.\n")

    add(f"**Wall time per cycle (batched / 0.2.0: {wall['server']['batched'] / wall['server']['legacy']:.2f}× "
        f"server, {wall['sqlite']['batched'] / wall['sqlite']['legacy']:.2f}× SQLite; immediate / 0.2.0: "
        f"{wall['server']['ours'] / wall['server']['legacy']:.2f}× / "
        f"{wall['sqlite']['ours'] / wall['sqlite']['legacy']:.2f}×; "
        + "; ".join(f"the {NAMES[f]}: {wall['server'][f] / wall['server']['legacy']:.2f}× / "
                    f"{wall['sqlite'][f] / wall['sqlite']['legacy']:.2f}×" for f in (FLOOR, SEED_FLOOR) if f in wall['server'])
        + ").** "
        f"To be at ≤ {BATCHED_WALL:g}× of 0.2.0 a cycle may take at most "
        + " and ".join(f"{BATCHED_WALL / (wall[bk][floor] / wall[bk]['legacy']):.2f}× the time of the {NAMES[floor]} on "
                       f"{'the server' if bk == 'server' else 'SQLite'}" for bk in ("server", "sqlite"))
        + " in this run; the batched mode takes "
        + " and ".join(f"{wall[bk]['batched'] / wall[bk][floor]:.2f}×" for bk in ("server", "sqlite"))
        + ". Time follows store round trips "
        "(the `*-cycle-*` profiles below): for immediate its per-call `log_batch`; for batched the "
        f"requests of the table above. Profile time under `log_lineage_page` (drawn in "
        f"`build_model_lineage` and again at `stop()`): batched {_prof(profiles, 'batched-cycle-server', 'log_lineage_page')} "
        f"on the server, {_prof(profiles, 'batched-cycle-sqlite', 'log_lineage_page')} on SQLite; under "
        f"`log_training_inputs` (the dataset inputs): {_prof(profiles, 'batched-cycle-server', 'log_training_inputs')} "
        f"/ {_prof(profiles, 'batched-cycle-sqlite', 'log_training_inputs')}.\n")

    # -- look-ups
    def growth(backend: str, impl: str, lookup: str, s: int) -> float:
        return lat(backend, impl, lookup, s) / lat(backend, impl, lookup, lo_s)

    timed = lookups_of(results["lookups"])
    nones = [k for k in NONE_LOOKUPS if k in timed]
    worst = max(growth(bk, "ours", k, s) for bk in ("sqlite", "server") for k in timed for s in tsizes)
    raw_hi = {bk: [growth(bk, "raw", k, hi_s) for k in LOOKUPS] for bk in ("sqlite", "server")}
    searches = sum(_get(results["lookups"][bk]["ours"], s).get("searches", {}).get(k, 0)
                   for bk in ("sqlite", "server") for s in sizes for k in timed)
    calls = sum(_get(results["lookups"][bk]["ours"], s).get("reps", 0) * len(timed)
                for bk in ("sqlite", "server") for s in sizes)
    add(f"**Look-ups (ours: at most {worst:.2f}× its time at {_n(lo_s)} cycles, over every look-up, backend and "
        f"size ≥ {_n(min(tsizes))}; from {_n(lo_s)} to {_n(hi_s)} cycles the raw floor's single search grows "
        + " / ".join(f"{g:.1f}×" for g in raw_hi["sqlite"]) + " on SQLite and "
        + " / ".join(f"{g:.1f}×" for g in raw_hi["server"])
        + " on the server, for prev / deployed / prediction job).** "
        f"Ours made {searches} `runs/search` in {calls} timed look-up calls: each was answered from the "
        "version index — `experiments/get` (the index run's id), `runs/get` of the index run (its latest "
        "metrics hold one entry per resource id and kind, not per version) and `runs/get` of the "
        "candidate, none of which reads more rows as history grows — and the candidate passed the check "
        "against the version rule, so no search was needed"
        + (" (a look-up answering none reads two records: the index holds no entry for the id, and the "
           "index is the complete one built with its experiment, so no entry means no such version)"
           if nones else "")
        + ". MLflow's search, which 0.2.0 and the floor "
        "use, joins the `tags` table once per clause and every history run matches (`parent_run = True`, "
        "`<id>.exists = True`), so its work grows with the history before `ORDER BY start_time LIMIT` "
        "applies.")
    def x(v: float) -> str:
        return f"{v:.2f}×" if v < 10 else f"{v:.0f}×"

    def cmp(size: int, num: str, den: str, which: Any = LOOKUPS) -> str:
        return "; ".join(" / ".join(x(lat(bk, num, k, size) / lat(bk, den, k, size)) for k in which)
                         + (" on SQLite" if bk == "sqlite" else " on the server") for bk in ("sqlite", "server"))

    add(f"At {_n(lo_s)} cycles ours takes {cmp(lo_s, 'ours', 'raw')} the floor's time (prev / deployed / "
        f"prediction job; three small reads instead of one search); at {_n(hi_s)} cycles the floor takes "
        f"{cmp(hi_s, 'raw', 'ours')} ours', and lolpop 0.2.0 {cmp(hi_s, 'legacy', 'ours')}. Profiles "
        f"`ours-lookups-*-{hi_s}`: `VersionIndex.candidate` "
        f"{_prof(profiles, f'ours-lookups-sqlite-{hi_s}', 'VersionIndex.candidate')} on SQLite, "
        f"{_prof(profiles, f'ours-lookups-server-{hi_s}', 'VersionIndex.candidate')} on the server; "
        f"`MlflowClient.search_runs` {_prof(profiles, f'ours-lookups-sqlite-{hi_s}', 'MlflowClient.search_runs')} / "
        f"{_prof(profiles, f'ours-lookups-server-{hi_s}', 'MlflowClient.search_runs')}.\n")
    if nones:
        add(f"Answering none (never deployed / no earlier version / no prediction job), at {_n(hi_s)} cycles "
            f"the floor's search takes {cmp(hi_s, 'raw', 'ours', nones)} ours' time (prev / deployed / "
            f"prediction job), lolpop 0.2.0 {cmp(hi_s, 'legacy', 'ours', nones)}: a search for an id no "
            "run holds still scans every run matching its other clauses (`parent_run = True`, "
            "FINISHED, started before).\n")
    add("What keeps ours on the index path: a version is indexed before it is FINISHED (by its `stop()`) "
        "and a DEPLOYED version before its status tag is written; an indexed answer is used only when it "
        "passes every condition of the search it replaces and started at or after the index's "
        "`lolpop.index.since`. A store whose index was created after its first versions (an upgrade from "
        "lolpop 0.3 or older, or a deleted index run) searches for look-ups whose answer started before "
        "`since` — the generated history here is indexed from its first cycle, as a store written by this "
        "version from the start is. A \"none\" answer is taken from the index only when the index is the "
        "complete one built with its experiment (`lolpop.index.complete`, started within "
        "`COMPLETE_WINDOW_MS` of the experiment's creation), as in every experiment this version creates; "
        "any other index cannot say what it does not hold, and those look-ups search.\n")
    return "\n".join(L)
