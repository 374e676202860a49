"""lolpop's own tracker passes the reusable contract suite of :mod:`lolpop.testing`, on every
backend (the ``make_tracker`` fixture gives each check a fresh MLflow experiment)."""

from __future__ import annotations

from lolpop.testing import CHECKS, parametrize_with_checks, tracker_checks


@parametrize_with_checks()
def test_mlflow_tracker_meets_the_contract(check, make_tracker):
    check(make_tracker)


def test_kit_lists_every_check_once():
    names = [name for name, _ in tracker_checks()]
    assert len(names) == len(set(names)) == len(CHECKS) >= 15
    assert all(name.startswith("check_") for name in names)
