"""The checks of :mod:`lolpop.testing`: the seed contract plus DESIGN.md, one behaviour each."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lolpop.exceptions import (
    ArtifactNotFoundError,
    InvalidFilterError,
    InvalidInputError,
    LolpopError,
    MetadataConflictError,
    MetadataNotFoundError,
    TrackerStoppedError,
    UnsupportedResourceTypeError,
)
from lolpop.layout.keys import LINEAGE_KEY

Factory = Callable[[], Any]


def _fail(message: str) -> None:
    raise AssertionError(message)


def _expect(exc_type: type[BaseException], call: Callable[[], Any], what: str) -> BaseException:
    try:
        call()
    except exc_type as exc:
        return exc
    except BaseException as exc:  # noqa: BLE001 - reported as a contract violation
        _fail(f"{what}: raised {type(exc).__name__} ({exc}), expected {exc_type.__name__}")
    _fail(f"{what}: raised nothing, expected {exc_type.__name__}")
    raise AssertionError  # unreachable


def cycle(make_tracker: Factory, rid: str, type: str = "dataset_version", stop: bool = True,
          **meta: Any) -> tuple[Any, Any]:
    """One workflow run: a new tracker records resource ``rid`` with ``meta`` and (by default)
    stops; returns ``(tracker, resource)``."""
    tracker = make_tracker()
    res = tracker.create_resource(rid, type=type)
    for key, value in meta.items():
        tracker.log_metadata(res, key, value)
    if stop:
        tracker.stop()
    return tracker, res


def check_metadata_round_trips_with_type(make_tracker: Factory) -> None:
    tracker = make_tracker()
    res = tracker.create_resource("ds", type="dataset_version")
    values = {"s": "5", "i": 5, "f": 0.25, "b": True, "n": None, "l": [1, "a"], "d": {"a": {"b": [1.5]}},
              "long": "x" * 9000, "unicode": "café ✓"}
    for key, value in values.items():
        tracker.log_metadata(res, key, value)
    for key, value in values.items():
        got = tracker.get_metadata(res, key)
        if got != value or type(got) is not type(value):
            _fail(f"get_metadata({key!r}) returned {got!r:.80}, logged {value!r:.80}")
    if tracker.get_metadata(res, "never-logged") is not None:
        _fail("get_metadata of a key never logged must be None")


def check_tags_round_trip(make_tracker: Factory) -> None:
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_tag(mv, "status", "DEPLOYED")
    if tracker.get_tag(mv, "status") != "DEPLOYED":
        _fail("log_tag must overwrite: get_tag returned the older value")


def check_params_are_write_once(make_tracker: Factory) -> None:
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    tracker.log_metadata(mv, "params", {"alpha": 1})
    tracker.log_metadata(mv, "params", {"alpha": 1})  # identical: a no-op
    err = _expect(MetadataConflictError, lambda: tracker.log_metadata(mv, "params", {"alpha": 2}),
                  "re-logging a param with another value")
    if "alpha" not in str(getattr(err, "key", "")):
        _fail(f"MetadataConflictError.key must name the param, got {getattr(err, 'key', None)!r}")
    if tracker.get_metadata(mv, "params") != {"alpha": 1}:
        _fail("a refused param write must leave the recorded value unchanged")


def check_bad_input_writes_nothing(make_tracker: Factory) -> None:
    tracker = make_tracker()
    res = tracker.create_resource("ds", type="dataset_version")
    for bad in ("caf\udce9", "a\x00b"):
        _expect(InvalidInputError, lambda bad=bad: tracker.log_metadata(res, "k", bad), f"log_metadata({bad!r})")
    if tracker.get_metadata(res, "k") is not None:
        _fail("a refused value must not be readable afterwards")
    _expect(InvalidInputError, lambda: tracker.log_metadata(("x", None), "k", 1), "a resource that is no pair")
    _expect(LolpopError, lambda: tracker.create_resource("", type="dataset"), "an empty resource id")
    tracker.log_metadata(res, "k", "fine")  # the tracker keeps working
    if tracker.get_metadata(res, "k") != "fine":
        _fail("the tracker must keep working after refused input")


def check_prev_version_is_newest_earlier_finished(make_tracker: Factory) -> None:
    for n in range(3):
        cycle(make_tracker, "ds", n=n)
    cycle(make_tracker, "ds", stop=False, n=99)  # RUNNING: never a previous version
    current, res = cycle(make_tracker, "ds", stop=False)
    prev = current.get_prev_resource_version(res)
    if prev is None or current.get_metadata(prev, "n") != 2:
        _fail("get_prev_resource_version must return the newest earlier FINISHED version")
    rid, many = current.get_prev_resource_version(res, num=5)
    if rid != "ds" or [current.get_metadata((rid, r), "n") for r in many] != [2, 1, 0]:
        _fail("num > 1 must return (id, [runs]) newest first, only those that exist")
    older = current.get_prev_resource_version(prev)
    if current.get_metadata(older, "n") != 1:
        _fail("the previous version of a previous version is the one before it")


def check_no_prev_version_is_none(make_tracker: Factory) -> None:
    tracker = make_tracker()
    res = tracker.create_resource("fresh", type="dataset_version")
    if tracker.get_prev_resource_version(res) is not None:
        _fail("a resource with no history has no previous version")


def check_extra_filters(make_tracker: Factory) -> None:
    cycle(make_tracker, "ds", source="it's quoted", n=0)
    cycle(make_tracker, "ds", source="plain", n=1)
    current, res = cycle(make_tracker, "ds", stop=False)
    prev = current.get_prev_resource_version(res, extra_filters=['tags.`ds.source` = "it\'s quoted"'])
    if prev is None or current.get_metadata(prev, "n") != 0:
        _fail("extra_filters must narrow the search")
    _expect(InvalidFilterError,
            lambda: current.get_prev_resource_version(res, extra_filters=["tags.x = 'a' OR tags.y = 'b'"]),
            "a malformed filter")


def check_deployed_is_strict(make_tracker: Factory) -> None:
    for n, status in enumerate(["DEPLOYED", "PROMOTED", None]):
        tracker, mv = cycle(make_tracker, "m", type="model_version", stop=False, n=n)
        if status:
            tracker.log_metadata(mv, "status", status)
        tracker.stop()
    current, mv = cycle(make_tracker, "m", type="model_version", stop=False)
    deployed = current.get_currently_deployed_model_version(mv)
    if deployed is None or current.get_metadata(deployed, "n") != 0:
        _fail("the deployed version is the newest earlier one whose status is DEPLOYED (no fallback)")


def check_experiments_and_winner(make_tracker: Factory) -> None:
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("xgb", type="experiment", parent=mv)
    if tracker.get_parent_id(exp, type="experiment") != "m":
        _fail("get_parent_id of an experiment must be its model version's id")
    tracker.log_metadata(exp, "params", {"depth": 3})
    tracker.clean_resource(exp, type="experiment")
    tracker.log_metadata(mv, "winning_experiment_id", tracker.get_resource_id(exp))
    won = tracker.get_winning_experiment(mv)
    if tracker.get_resource_id(won) != tracker.get_resource_id(exp) or tracker.get_metadata(won, "params") != {"depth": 3}:
        _fail("get_winning_experiment must return the recorded experiment with its metadata")
    found = tracker.get_resource(tracker.get_resource_id(exp), type="experiment")
    if tracker.get_metadata(found, "params") != {"depth": 3}:
        _fail("get_resource must find an experiment by its id")
    other = make_tracker().create_resource("m2", type="model_version")
    _expect(MetadataNotFoundError, lambda: tracker.get_winning_experiment(other), "no winner recorded")


def check_prediction_jobs(make_tracker: Factory) -> None:
    first = make_tracker()
    mv = first.create_resource("m", type="model_version")
    first.log_metadata(mv, "n", 1)
    pj = first.create_resource("m_predictions", type="prediction_job", parent=mv, prediction_count=7)
    if first.get_metadata(pj, "prediction_count") != 7:
        _fail("create_resource keyword arguments are recorded as metadata")
    back = first.get_prediction_job_model_version(pj)
    if back[0] != "m" or first.get_metadata(back, "n") != 1:
        _fail("get_prediction_job_model_version must return the parent model version")
    first.stop()
    second = make_tracker()
    model = second.create_resource("m", type="model")
    latest = second.get_latest_model_resource(model, "prediction_job")
    if latest is None or latest[0] != "m_predictions" or second.get_metadata(latest, "prediction_count") != 7:
        _fail("get_latest_model_resource(type='prediction_job') must return the newest <model>_predictions")
    _expect(UnsupportedResourceTypeError, lambda: second.get_latest_model_resource(model, "dataset"), "other types")


def check_lineage_and_inheritance(make_tracker: Factory) -> None:
    first = make_tracker()
    dv = first.create_resource("train", type="dataset_version")
    mv = first.create_resource("m", type="model_version")
    first.build_model_lineage(mv, [dv])
    lineage = first.get_metadata(mv, LINEAGE_KEY)
    if not isinstance(lineage, list) or [d.get("id") for d in lineage] != ["train"]:
        _fail(f"build_model_lineage must record the dataset version ids, got {lineage!r}")
    first.stop()
    second = make_tracker()
    mv2 = second.create_resource("m", type="model_version")
    second.build_model_lineage(mv2, [])
    if second.get_metadata(mv2, LINEAGE_KEY) != lineage:
        _fail("an empty list inherits the previous version's lineage")


def check_version_control_info(make_tracker: Factory) -> None:
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    tracker.register_vc_resource(mv, {"hexsha": "abc", "uri": "models/m.pkl"}, key="train",
                                 additional_metadata={"rows": 3})
    for key in ("train", "train_hexsha"):
        if tracker.get_vc_info(mv, key=key) != {"hexsha": "abc", "uri": "models/m.pkl"}:
            _fail(f"get_vc_info(key={key!r}) must return what register_vc_resource(key='train') wrote")
    if tracker.get_metadata(mv, "rows") != 3:
        _fail("additional_metadata is recorded as metadata")
    _expect(MetadataNotFoundError, lambda: tracker.get_vc_info(mv, key="nothing"), "unknown vc key")


def check_artifacts_and_reports(make_tracker: Factory) -> None:
    tracker = make_tracker()
    dv = tracker.create_resource("ds", type="dataset_version")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_text("<p>profile</p>")
        tracker.log_artifact(dv, "sample", str(path))
        tracker.log_data_profile(dv, str(path))
        tracker.log_checks(dv, str(path), type="data")
        tracker.log_data_comparison(dv, str(path))
    for got in (tracker.get_artifact(dv, "sample"), tracker.get_data_profile(dv, "ds_data_profile"),
                tracker.get_data_checks(dv, "ds_data_checks_report"), tracker.get_artifact(dv, "ds_data_comparison")):
        if Path(got).read_text() != "<p>profile</p>":
            _fail(f"a downloaded artifact must hold what was logged ({got})")
    _expect(ArtifactNotFoundError, lambda: tracker.get_artifact(dv, "missing"), "an unknown artifact id")
    _expect(InvalidInputError, lambda: tracker.log_artifact(dv, "..", __file__), "'..' as an artifact id")


def check_stop_is_final_and_idempotent(make_tracker: Factory) -> None:
    tracker = make_tracker()
    res = tracker.create_resource("ds", type="dataset_version")
    tracker.stop()
    tracker.stop()
    _expect(TrackerStoppedError, lambda: tracker.log_metadata(res, "k", 1), "a write after stop()")


def check_resource_ids(make_tracker: Factory) -> None:
    tracker = make_tracker()
    if tracker.get_resource_id(("data/train.v2.csv", None)) != "train_v2":
        _fail("a path id is its file stem with '.' replaced by '_'")
    res = tracker.create_resource("data/train.v2.csv", type="dataset_version")
    tracker.log_metadata(res, "rows", 1)
    if tracker.get_metadata(tracker.get_resource("data/train.v2.csv", type="dataset_version"), "rows") != 1:
        _fail("get_resource must find a resource created in this run")


CHECKS: tuple[Callable[[Factory], None], ...] = (
    check_metadata_round_trips_with_type,
    check_tags_round_trip,
    check_params_are_write_once,
    check_bad_input_writes_nothing,
    check_prev_version_is_newest_earlier_finished,
    check_no_prev_version_is_none,
    check_extra_filters,
    check_deployed_is_strict,
    check_experiments_and_winner,
    check_prediction_jobs,
    check_lineage_and_inheritance,
    check_version_control_info,
    check_artifacts_and_reports,
    check_stop_is_final_and_idempotent,
    check_resource_ids,
)
