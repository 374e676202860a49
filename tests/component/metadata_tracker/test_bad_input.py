"""Bad-input matrix, on every backend: each hostile input gives a clear lolpop exception (or
``TypeError`` for a value JSON cannot hold) or is stored correctly — and a failed call writes
nothing: afterwards ``MlflowClient.get_run`` shows the same tags and params as before.

The same table is in ``docs/scale-out.md`` ("Bad input").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lolpop.exceptions import (
    InvalidFilterError,
    InvalidInputError,
    InvalidKeyError,
    InvalidResourceIdError,
    LolpopError,
)

BIG = "x" * 1_000_000  # 1 MB


class Ctx:
    """What a case acts on: a dataset version and an experiment in a fresh workflow run."""

    def __init__(self, tracker, tmp_path: Path) -> None:
        self.t = tracker
        self.dv = tracker.create_resource("train", type="dataset_version")
        self.mv = tracker.create_resource("model", type="model_version")
        self.exp = tracker.create_resource("xgb", type="experiment", parent=self.mv)
        self.tmp = tmp_path
        self.file = tmp_path / "report.html"
        self.file.write_text("<html>report</html>")


def stored(check: Callable[[Ctx, Any], None]) -> Callable[[Ctx, Any], None]:
    return check


def _round_trip(key: str, value: Any) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, _: Any) -> None:
        assert ctx.t.get_metadata(ctx.dv, key) == value
    return check


def _is_nan(key: str) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, _: Any) -> None:
        got = ctx.t.get_metadata(ctx.dv, key)
        assert isinstance(got, float) and got != got
    return check


def _dataframe() -> Any:
    import pandas as pd

    return pd.DataFrame({"a": [1, 2]})


def _is_none(result: Any) -> None:
    assert result is None


def _resource_stored_as(rid: str) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, res: Any) -> None:
        assert ctx.t.get_resource_id(res) == rid
        ctx.t.log_metadata(res, "rows", 3)
        assert ctx.t.get_metadata(res, "rows") == 3
        assert ctx.t.get_resource(res[0], type="dataset_version")[1].info.run_id == ctx.t.run.info.run_id
    return check


def _artifact_inside(rid: str, aid: str) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, res: Any) -> None:
        files = ctx.t.client.list_artifacts(ctx.t.run.info.run_id, f"{rid}/{aid}")
        assert [Path(f.path).name for f in files] == ["report.html"]
        dst = ctx.tmp / "download"
        dst.mkdir()
        local = Path(ctx.t.get_artifact(res, aid, dst_path=str(dst)))
        assert local.resolve().is_relative_to(dst.resolve())
        assert local.read_text() == "<html>report</html>"
    return check


# (case id, action(ctx), expected exception class | check(ctx, result) for correct storage)
CASES: list[tuple[str, Callable[[Ctx], Any], Any]] = [
    # resource ids
    ("id-None", lambda c: c.t.create_resource(None, type="dataset_version"), InvalidResourceIdError),
    ("id-int", lambda c: c.t.create_resource(42, type="dataset_version"), InvalidResourceIdError),
    ("id-empty", lambda c: c.t.create_resource("", type="dataset_version"), InvalidResourceIdError),
    ("id-blank", lambda c: c.t.create_resource("   \t", type="dataset_version"), InvalidResourceIdError),
    ("id-single-quote", lambda c: c.t.create_resource("it's", type="dataset_version"), InvalidResourceIdError),
    ("id-double-quote", lambda c: c.t.create_resource('a"b', type="dataset_version"), InvalidResourceIdError),
    ("id-backtick", lambda c: c.t.create_resource("a`b", type="dataset_version"), InvalidResourceIdError),
    ("id-sql", lambda c: c.t.create_resource("x' OR '1'='1", type="dataset_version"), InvalidResourceIdError),
    ("id-dotdot", lambda c: c.t.create_resource("..", type="dataset_version"), InvalidResourceIdError),
    ("id-newline", lambda c: c.t.create_resource("a\nb", type="dataset_version"), InvalidResourceIdError),
    ("id-unicode", lambda c: c.t.create_resource("données_✓", type="dataset_version"), InvalidResourceIdError),
    ("id-reserved", lambda c: c.t.create_resource("_lolpop.enc", type="dataset_version"), InvalidResourceIdError),
    ("id-too-long", lambda c: c.t.create_resource("d" * 300, type="dataset_version"), InvalidResourceIdError),
    ("id-path", lambda c: c.t.create_resource("data/train.v2.csv", type="dataset_version"),
     _resource_stored_as("train_v2")),
    ("id-path-traversal", lambda c: c.t.create_resource("../../etc/passwd", type="dataset_version"),
     _resource_stored_as("passwd")),
    ("get-resource-id-quote", lambda c: c.t.get_resource("it's", type="dataset_version"), InvalidResourceIdError),
    ("lookup-id-backtick", lambda c: c.t.get_prev_resource_version(("a`b", c.t.run)), InvalidInputError),
    # an id that can never have been stored has no previous version; the quote changes no query
    ("lookup-id-quote", lambda c: c.t.get_prev_resource_version(("it's", c.t.run)), lambda c, r: _is_none(r)),
    ("log-on-id-backtick", lambda c: c.t.log_metadata(("a`b", c.t.run), "k", 1), InvalidInputError),
    ("resource-not-a-pair", lambda c: c.t.log_metadata("train", "rows", 1), InvalidInputError),
    ("resource-no-run", lambda c: c.t.log_metadata(("train", None), "rows", 1), InvalidInputError),
    ("get-resource-bad-experiment-id", lambda c: c.t.get_resource("../x", type="experiment"),
     InvalidResourceIdError),
    # a NUL in an id never reaches the store (PostgreSQL refuses it in any query)
    ("id-nul", lambda c: c.t.create_resource("a\x00b", type="dataset_version"), InvalidResourceIdError),
    ("log-on-id-nul", lambda c: c.t.log_metadata(("a\x00b", c.t.run), "k", 1), InvalidInputError),
    ("lookup-id-nul", lambda c: c.t.get_prev_resource_version(("a\x00b", c.t.run)), InvalidInputError),
    # keys
    ("key-None", lambda c: c.t.log_metadata(c.dv, None, 1), InvalidKeyError),
    ("key-int", lambda c: c.t.log_metadata(c.dv, 5, 1), InvalidKeyError),
    ("key-empty", lambda c: c.t.log_tag(c.dv, "", "v"), InvalidKeyError),
    ("key-quote", lambda c: c.t.log_tag(c.dv, "st'atus", "v"), InvalidKeyError),
    ("key-backtick", lambda c: c.t.log_tag(c.dv, "st`atus", "v"), InvalidKeyError),
    # a metadata key is only a tag name (never a path), so "../x" is stored as the tag "train.../x"
    ("key-dotdot", lambda c: c.t.log_metadata(c.dv, "../x", 1), _round_trip("../x", 1)),
    ("key-over-250", lambda c: c.t.log_metadata(c.dv, "k" * 251, 1), InvalidKeyError),
    ("param-key-quote", lambda c: c.t.log_metadata(c.exp, "params", {"ok": 1, "b'ad": 2}), InvalidKeyError),
    ("param-key-over-250", lambda c: c.t.log_metadata(c.exp, "params", {"ok": 1, "p" * 251: 2}), InvalidKeyError),
    ("param-value-1MB", lambda c: c.t.log_metadata(c.exp, "params", {"ok": 1, "big": BIG}), InvalidInputError),
    # values
    ("value-1MB", lambda c: c.t.log_metadata(c.dv, "big", BIG), _round_trip("big", BIG)),
    ("value-unicode", lambda c: c.t.log_metadata(c.dv, "note", "ünïcode ✓ \"'` ../"),
     _round_trip("note", "ünïcode ✓ \"'` ../")),
    ("value-object", lambda c: c.t.log_metadata(c.dv, "obj", object()), TypeError),
    ("value-set", lambda c: c.t.log_metadata(c.dv, "s", {1, 2}), TypeError),
    ("value-bytes", lambda c: c.t.log_tag(c.dv, "b", b"raw"), TypeError),
    # nan and int dict keys have a lossless encoding now (see README "Values")
    ("value-nan", lambda c: c.t.log_metadata(c.dv, "f", float("nan")), _is_nan("f")),
    ("value-int-dict-keys", lambda c: c.t.log_metadata(c.dv, "d", {1: "a"}), _round_trip("d", {1: "a"})),
    ("value-dataframe", lambda c: c.t.log_metadata(c.dv, "df", _dataframe()), TypeError),
    ("value-dict-keys-clash", lambda c: c.t.log_metadata(c.dv, "d", {1: "a", "1": "b"}), TypeError),
    ("value-nested-object", lambda c: c.t.log_metadata(c.dv, "l", [1, {"k": object()}]), TypeError),
    ("vc-info-not-dict", lambda c: c.t.register_vc_resource(c.dv, "abc123"), InvalidInputError),
    ("vc-extra-object", lambda c: c.t.register_vc_resource(c.dv, {"hexsha": "a"}, additional_metadata={"o": object()}),
     TypeError),
    # extra_filters
    ("filter-OR", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=["tags.a = 'x' OR tags.b = 'y'"]),
     InvalidFilterError),
    ("filter-unbalanced-quote", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=["tags.a = 'x"]),
     InvalidFilterError),
    ("filter-unbalanced-backtick", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=["tags.`a = 'x'"]),
     InvalidFilterError),
    ("filter-unknown-field", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=["foo.bar = 'x'"]),
     InvalidFilterError),
    ("filter-injection", lambda c: c.t.get_prev_resource_version(
        c.dv, extra_filters=["tags.a = 'x'; DROP TABLE runs"]), InvalidFilterError),
    ("filter-empty", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=[""]), InvalidFilterError),
    ("filter-not-str", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=[42]), InvalidFilterError),
    ("filter-not-list", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters={"a": 1}), InvalidFilterError),
    # hundreds of comparisons: SQLite refuses 200 joins, SQLAlchemy recurses too deep at 500
    ("filter-500-clauses", lambda c: c.t.get_prev_resource_version(
        c.dv, extra_filters=[f"tags.k{i} = 'v'" for i in range(500)]), InvalidFilterError),
    ("filter-500-in-one-clause", lambda c: c.t.get_prev_resource_version(
        c.dv, extra_filters=[" and ".join(f"tags.k{i} = 'v'" for i in range(500))]), InvalidFilterError),
    ("filter-nested-too-deep", lambda c: c.t.get_prev_resource_version(
        c.dv, extra_filters=["(" * 3000 + "tags.a = 'x'" + ")" * 3000]), InvalidFilterError),
    ("filter-nul", lambda c: c.t.get_prev_resource_version(c.dv, extra_filters=["tags.a = 'x\x00'"]),
     InvalidFilterError),
    ("num-zero", lambda c: c.t.get_prev_resource_version(c.dv, num=0), InvalidInputError),
    # artifacts
    ("artifact-id-dotdot-slash", lambda c: c.t.log_artifact(c.dv, "../outside", str(c.file)), InvalidKeyError),
    ("artifact-id-dotdot", lambda c: c.t.log_artifact(c.dv, "..", str(c.file)), InvalidKeyError),
    ("artifact-id-slash", lambda c: c.t.log_artifact(c.dv, "a/b", str(c.file)), InvalidKeyError),
    ("artifact-id-backslash", lambda c: c.t.log_artifact(c.dv, "..\\x", str(c.file)), InvalidKeyError),
    ("artifact-id-absolute", lambda c: c.t.log_artifact(c.dv, "/etc", str(c.file)), InvalidKeyError),
    ("artifact-id-None", lambda c: c.t.log_artifact(c.dv, None, str(c.file)), InvalidKeyError),
    ("artifact-id-empty", lambda c: c.t.log_artifact(c.dv, "", str(c.file)), InvalidKeyError),
    ("artifact-missing-file", lambda c: c.t.log_artifact(c.dv, "r", str(c.tmp / "nope.html")), InvalidInputError),
    # a resource id is a folder of the run's artifacts: "." / ".." / NUL would leave it or break it
    ("artifact-resource-dotdot", lambda c: c.t.log_artifact(("..", c.t.run), "rep", str(c.file)),
     InvalidResourceIdError),
    ("artifact-resource-dot", lambda c: c.t.log_artifact((".", c.t.run), "rep", str(c.file)), InvalidResourceIdError),
    ("artifact-resource-nul", lambda c: c.t.log_artifact(("a\x00b", c.t.run), "rep", str(c.file)),
     InvalidResourceIdError),
    ("get-artifact-resource-dotdot", lambda c: c.t.get_artifact(("..", c.t.run), "rep", dst_path=str(c.tmp)),
     InvalidResourceIdError),
    ("get-artifact-traversal", lambda c: c.t.get_artifact(c.dv, "../../model", dst_path=str(c.tmp)), InvalidKeyError),
    ("artifact-resource-traversal",
     lambda c: (c.t.log_artifact(("../../escape.csv", c.t.run), "rep", str(c.file)), ("../../escape.csv", c.t.run))[1],
     _artifact_inside("escape", "rep")),
]


def _snapshot(client, ctx: Ctx) -> list[tuple[dict, dict, list]]:
    out = []
    for run_id in (ctx.t.run.info.run_id, ctx.exp.run.info.run_id):
        run = client.get_run(run_id)
        arts = sorted(f.path for f in client.list_artifacts(run_id))
        out.append((dict(run.data.tags), dict(run.data.params), arts))
    return out


@pytest.mark.parametrize(("action", "expect"), [pytest.param(a, e, id=i) for i, a, e in CASES])
def test_bad_input(tracker, client, tmp_path, action, expect):
    ctx = Ctx(tracker, tmp_path)
    before = _snapshot(client, ctx)
    if isinstance(expect, type):
        with pytest.raises(expect) as info:
            action(ctx)
        assert isinstance(info.value, (LolpopError, TypeError)), type(info.value)
        assert str(info.value), "the message must say what was wrong"
        assert len(str(info.value)) < 2000, "messages stay readable (no 1 MB echo)"
        # Nothing partial: the store holds exactly what it held before the call ...
        assert _snapshot(client, ctx) == before
        # ... and the tracker keeps working.
        tracker.log_metadata(ctx.dv, "after", "ok")
        assert tracker.get_metadata(ctx.dv, "after") == "ok"
    else:
        result = action(ctx)
        expect(ctx, result)
