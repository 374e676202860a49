"""The checks of caller input live in one module (lolpop.layout.arguments): the same bad input gets
the same error from the tracker, the store reader, lineage and audit."""

from __future__ import annotations

import pytest

from lolpop.audit.deployments import status_history
from lolpop.exceptions import InvalidInputError, InvalidResourceIdError
from lolpop.layout import arguments
from lolpop.lineage import StoreReader, build_lineage, open_client


@pytest.mark.parametrize("bad", ["not a pair", ("a",), ("a", "b", "c"), None])
def test_a_resource_that_is_not_an_id_run_pair_is_refused_with_the_value(bad):
    with pytest.raises(InvalidInputError, match=r"must be an \(id, run\) pair") as err:
        arguments.resource_pair(bad)
    assert err.value.value == bad


def test_a_pair_whose_second_element_is_no_run_names_the_id():
    with pytest.raises(InvalidInputError, match="'x': second element is not an MLflow run") as err:
        arguments.resource_pair(("x", object()), "dataset_version")
    assert err.value.resource_id == "x"


@pytest.mark.parametrize("bad", ["", None, 3])
def test_an_empty_or_non_string_id_is_an_invalid_resource_id(bad):
    with pytest.raises(InvalidResourceIdError, match="must be a non-empty string"):
        arguments.resource_id(bad)


def test_choices_and_depths():
    assert arguments.one_of("up", ("up", "down"), "direction") == "up"
    with pytest.raises(InvalidInputError, match="direction must be one of up, down, got 'left'"):
        arguments.one_of("left", ("up", "down"), "direction")
    assert arguments.depth(None) is None and arguments.depth(0) == 0
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidInputError, match="depth must be a non-negative int"):
            arguments.depth(bad)


def test_the_tracker_the_reader_and_audit_refuse_the_same_input_alike(tracker, tracking_uri):
    """One rule: the tracker's get_lineage / diff / get_impact, StoreReader.locate, the lineage
    builder and the deployment history give the same error for the same bad input."""
    bad_pair = ("dv", "not a run")
    messages = set()
    for call in (lambda: tracker.get_lineage(bad_pair), lambda: tracker.get_impact(bad_pair),
                 lambda: tracker.diff(bad_pair, bad_pair)):
        with pytest.raises(InvalidInputError, match="second element is not an MLflow run") as err:
            call()
        messages.add(str(err.value).split(": ", 1)[1])
    assert messages == {"second element is not an MLflow run"}
    tracker.flush()
    reader = StoreReader(open_client(tracking_uri))
    for call in (lambda: reader.locate(""), lambda: status_history(reader, "")):
        with pytest.raises(InvalidResourceIdError, match="must be a non-empty string"):
            call()
    dv = tracker.create_resource("dv", type="dataset_version")
    tracker.flush()
    with pytest.raises(InvalidInputError, match="direction must be one of both, upstream, downstream"):
        build_lineage(reader, reader.locate("dv", dv[1].info.run_id), direction="sideways")
