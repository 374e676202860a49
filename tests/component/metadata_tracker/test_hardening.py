"""One bad value never poisons a tracker; the cache never disagrees with the store; runs end.

Each test here reproduces a finding of the hardening review (issue "Hardening", items 2, 3, 4, 7
and 8) against a real store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lolpop.exceptions import InvalidInputError, LolpopError

SRC = str(Path(__file__).parents[3] / "src")
BAD_VALUES = [pytest.param("/data/caf\udce9.csv", id="lone-surrogate"), pytest.param("a\x00b", id="nul")]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}


# -- item 2: a value the store cannot hold is refused at the call, and never queued ------------
@pytest.mark.parametrize("bad", BAD_VALUES)
def test_bad_value_is_refused_at_the_call_and_the_tracker_keeps_working(make_tracker, client, bad):
    tracker = make_tracker()
    dv = tracker.create_resource("d", type="dataset_version")
    with pytest.raises(InvalidInputError) as info:
        tracker.log_metadata(dv, "path", bad)
    assert info.value.key == "d.path" and "'d.path'" in str(info.value)
    assert tracker.get_metadata(dv, "path") is None  # the cache holds only what the store accepted
    tracker.log_metadata(dv, "rows", 3)  # later writes work...
    tracker.stop()  # ...and so does stop()
    run = client.get_run(tracker.run.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["d.rows"] == "3" and "d.path" not in run.data.tags


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_bad_key_or_param_is_refused_too(tracker, bad):
    dv = tracker.create_resource("d", type="dataset_version")
    with pytest.raises(InvalidInputError):
        tracker.log_metadata(dv, "params", {"p": bad})
    with pytest.raises(InvalidInputError):
        tracker.log_metadata(dv, f"k{bad}", 1)
    tracker.log_metadata(dv, "params", {"p": "fine"})
    assert tracker.get_metadata(dv, "params") == {"p": "fine"}


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_batched_bad_value_does_not_lose_the_good_pending_ones(make_tracker, client, bad):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    dv = tracker.create_resource("d", type="dataset_version")
    for i in range(20):
        tracker.log_metadata(dv, f"good{i}", i)
    with pytest.raises(InvalidInputError):
        tracker.log_metadata(dv, "bad", bad)
    tracker.stop()
    run = client.get_run(tracker.run.info.run_id)
    assert run.info.status == "FINISHED"
    assert all(run.data.tags[f"d.good{i}"] == str(i) for i in range(20))
    assert "d.bad" not in run.data.tags


def test_store_refusal_is_not_resent_and_held_writes_survive(tracker, client):
    """A refusal no local check can foresee (another process set the param first): the refused
    write is not cached or resent, and the experiment's run keeps what it holds (layout v2: its
    structure is in its creation tags, nothing is held back for it)."""
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    client.log_param(exp.run.info.run_id, "lr", "0.5")  # behind the tracker's back
    with pytest.raises(LolpopError):
        tracker.log_metadata(exp, "params", {"lr": 0.1})
    assert tracker.get_metadata(exp, "params") is None
    stored = client.get_run(exp.run.info.run_id).data.tags
    assert stored["lolpop.layout"] == "2" and stored["lolpop.parent_id"] == "m"
    tracker.log_metadata(exp, "score", 1)  # the refused entries are not sent again
    tracker.clean_resource(exp, type="experiment")
    run = client.get_run(exp.run.info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["score"] == "1"
    assert run.data.params == {"lr": "0.5"}


# -- item 3: the writing process reads its own latest long value ---------------------------------
def test_long_value_rewritten_reads_back_new_text(tracker, tracking_uri):
    dv = tracker.create_resource("d", type="dataset_version")
    tracker.log_metadata(dv, "k", "A" * 5000)
    tracker.log_metadata(dv, "k", "B" * 5000)
    assert tracker.get_metadata(dv, "k") == "B" * 5000
    tracker.stop()
    reader_run = MlflowClient(tracking_uri).get_run(tracker.run.info.run_id)
    assert reader_run.data.tags["d.k"].startswith("lolpop-artifact:")


# -- item 4: threads sharing a tracker keep cache and store equal --------------------------------
def test_threads_writing_one_key_leave_cache_equal_to_store(tracker, client):
    dv = tracker.create_resource("d", type="dataset_version")
    mismatches = []
    for round_ in range(60):
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                barrier.wait()
                tracker.log_metadata(dv, "k", f"{round_}-{i}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        stored = client.get_run(tracker.run.info.run_id).data.tags["d.k"]
        if stored != tracker.get_metadata(dv, "k"):
            mismatches.append(round_)
    assert mismatches == []


# -- items 7 and 8: batched window bounded by a timer, SIGTERM flushes, exit ends the run ---------
def _script(tmp_path: Path, conf: dict, body: str) -> Path:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from lolpop.components import MLFlowMetadataTracker
        t = MLFlowMetadataTracker(conf={conf!r})
        dv = t.create_resource("d", type="dataset_version")
        print(t.run.info.run_id, flush=True)
    """) + textwrap.dedent(body))
    return script


def _wait_line(proc: subprocess.Popen, want: str, timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.strip() == want:
            return lines
    proc.kill()
    raise AssertionError(f"never printed {want!r}: {lines} {proc.stderr.read()[-2000:]}")


def _batched_writer(tmp_path: Path, conf: dict, flush_seconds: float) -> tuple[subprocess.Popen, str]:
    """A process that writes 20 values in batched mode, then idles; returns it and its run id."""
    cfg = dict(conf["config"], mlflow_write_mode="batched", mlflow_flush_seconds=flush_seconds)
    script = _script(tmp_path, cfg, """
        for i in range(20):
            t.log_metadata(dv, f"v{i}", i)
        print("written", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    return proc, _wait_line(proc, "written")[0]


def test_batched_window_is_bounded_by_time_even_when_killed(conf, client, tmp_path):
    proc, run_id = _batched_writer(tmp_path, conf, flush_seconds=1)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the timer sends the window without any new call
            if "d.v19" in client.get_run(run_id).data.tags:
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        tags = client.get_run(run_id).data.tags
        assert [tags.get(f"d.v{i}") for i in range(20)] == [str(i) for i in range(20)]
    finally:
        proc.kill()


def test_sigterm_flushes_and_ends_the_run_killed(conf, client, tmp_path):
    proc, run_id = _batched_writer(tmp_path, conf, flush_seconds=3600)
    try:
        assert "d.v0" not in client.get_run(run_id).data.tags  # still held
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == -signal.SIGTERM  # still dies of SIGTERM, as without lolpop
        run = client.get_run(run_id)
        assert run.info.status == "KILLED"
        assert [run.data.tags.get(f"d.v{i}") for i in range(20)] == [str(i) for i in range(20)]
    finally:
        proc.kill()


@pytest.mark.parametrize(("ending", "status"), [("", "FINISHED"), ("raise RuntimeError('boom')", "FAILED")])
def test_script_without_stop_leaves_no_running_run(conf, client, tmp_path, ending, status):
    script = _script(tmp_path, conf["config"], f"""
        t.log_metadata(dv, "rows", 1)
        {ending}
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(), timeout=300)
    assert (out.returncode == 0) == (status == "FINISHED"), out.stderr[-2000:]
    run = client.get_run(out.stdout.split()[0])
    assert run.info.status == status and run.data.tags["d.rows"] == "1"


def test_threads_writing_typed_values_keep_every_type_entry(make_tracker):
    """The type bookkeeping of a run is read-modify-write: it happens under the run's write lock."""
    tracker = make_tracker()
    dv = tracker.create_resource("d", type="dataset_version")
    barrier = threading.Barrier(4)

    def write(i: int) -> None:
        barrier.wait()
        for j in range(25):
            tracker.log_metadata(dv, f"k{i}_{j}", i * 100 + j)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tracker.stop()
    reader = make_tracker()
    prev = reader.get_prev_resource_version(reader.create_resource("d", type="dataset_version"))
    got = {f"k{i}_{j}": reader.get_metadata(prev, f"k{i}_{j}") for i in range(4) for j in range(25)}
    assert got == {f"k{i}_{j}": i * 100 + j for i in range(4) for j in range(25)}
