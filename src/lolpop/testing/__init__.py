"""The metadata-tracker contract as a reusable pytest suite (as scikit-learn's
``parametrize_with_checks``), so a new tracker backend can prove itself against it.

Each check is a function ``check(make_tracker)``: ``make_tracker()`` must return a *new* tracker
(a new workflow run) on one store namespace that is fresh for the check — every tracker a check
makes shares that namespace, so later trackers see earlier ones' history — and the caller stops
whatever it made afterwards. Checks use only :class:`~lolpop.component.BaseMetadataTracker`'s
public API, and identify versions by what they recorded, never by backend handles.

Example (a test module of your backend)::

    import pytest
    from lolpop.testing import parametrize_with_checks

    @pytest.fixture
    def make_tracker(tmp_path):
        made = []
        def make():
            made.append(MyTracker(conf={"root": str(tmp_path)}))
            return made[-1]
        yield make
        for t in made:
            t.stop()

    @parametrize_with_checks()
    def test_contract(check, make_tracker):
        check(make_tracker)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lolpop.testing._checks import CHECKS, cycle

__all__ = ["CHECKS", "cycle", "parametrize_with_checks", "tracker_checks"]


def tracker_checks() -> Iterator[tuple[str, Callable[[Callable[[], Any]], None]]]:
    """``(name, check)`` for every check of the contract."""
    for check in CHECKS:
        yield check.__name__, check


def parametrize_with_checks() -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over every check, with readable ids."""
    import pytest

    return pytest.mark.parametrize("check", list(CHECKS), ids=[c.__name__ for c in CHECKS])
