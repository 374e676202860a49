"""The test lanes (tests/conftest.py) drop no test: every test of the suite has exactly one of the
lane markers unit / server / postgres (``slow`` may come on top), so ``-m "unit or server or
postgres"`` deselects nothing, and every ``SLOW`` / ``SLOW_SERVER_FOLDERS`` entry still names a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.conftest import COLLECTED_LANES, LANES, SLOW, SLOW_SERVER_FOLDERS

ROOT = Path(__file__).parents[2]

# Collects the whole suite in a fresh interpreter and prints, per test, the lane and slow markers
# pytest's -m sees, and how many tests -m "unit or server or postgres" deselected.
COLLECT = """
import json, sys
import pytest

class Dump:
    items, deselected = [], 0

    def pytest_deselected(self, items):
        Dump.deselected += len(items)

    def pytest_collection_finish(self, session):
        names = set(sys.argv[1].split(","))
        Dump.items = {item.nodeid: sorted({m.name for m in item.iter_markers()} & names) for item in session.items}

code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "unit or server or postgres", "tests"],
                   plugins=[Dump()])
print(json.dumps({"code": int(code), "deselected": Dump.deselected, "items": Dump.items}))
"""


def _whole_suite_collected(config: pytest.Config) -> bool:
    """Whether this session collected all of tests/ (``make test``, ``make test-fast``, plain ``pytest``)."""
    here = config.invocation_params.dir
    return bool(config.args) and all((here / arg).resolve() in (ROOT, ROOT / "tests") for arg in config.args)


def _collect_in_subprocess() -> dict[str, list[str]]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    out = subprocess.run([sys.executable, "-c", COLLECT, ",".join((*LANES, "slow"))], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, found["code"]
    assert found["deselected"] == 0, 'tests deselected by -m "unit or server or postgres"'
    return found["items"]


def test_every_test_has_exactly_one_lane(request: pytest.FixtureRequest):
    # This session's own collection when it covered the whole suite (no second collection, ~5 s);
    # otherwise (this file run alone, a -k / path selection) the suite collected in a subprocess.
    if _whole_suite_collected(request.config):
        items = request.config.stash[COLLECTED_LANES]
    else:
        items = _collect_in_subprocess()
    assert len(items) > 100, f"only {len(items)} tests collected"
    wrong = {nodeid: marks for nodeid, marks in items.items() if len(set(marks) & set(LANES)) != 1}
    assert not wrong, f"tests without exactly one lane marker among {LANES}: {wrong}"
    for lane in LANES:
        assert any(lane in marks for marks in items.values()), f"no test in lane {lane}"

    slow = {nodeid.split("[", 1)[0] for nodeid, marks in items.items() if "slow" in marks}
    stale = [pattern for pattern in SLOW if not any(fnmatchcase(base, pattern) for base in slow)]
    stale += [folder for folder in SLOW_SERVER_FOLDERS if not any(base.startswith(folder) for base in slow)]
    assert not stale, f"SLOW entries in tests/conftest.py that match no test (renamed or removed?): {stale}"
