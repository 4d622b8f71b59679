"""Seconds each test file took, so `make test`'s workers can take the longest files first.

tests/durations.json maps a test file to the seconds its tests took (setup, call and teardown, its
module-scoped servers included) in a whole run of the suite. It only orders the work: a file it does
not know counts as its number of tests times the mean seconds of a recorded test, and a stale figure
costs some balance, never a test. Refresh it after a change that moves a file's time by much:

    .venv/bin/python -m pytest -n 2 --dist loadscope --record-durations

(tests/conftest.py adds the option; the figures are then those of that run, on that machine.)
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

FILE = Path(__file__).with_name("durations.json")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def load() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(FILE.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError):
        return {}


def expected_seconds(units: Mapping[str, Iterable[str]]) -> dict[str, float]:
    """Each work unit's expected seconds: the sum over its files (a unit is a file, or every Ray file)."""
    recorded = load()
    tests = _tests_per_file(units)
    known = [file for file in tests if file in recorded]
    per_test = sum(recorded[f] for f in known) / max(1, sum(tests[f] for f in known)) if known else 1.0
    expected: dict[str, float] = {}
    for unit, nodeids in units.items():
        files = {_file(nodeid) for nodeid in nodeids}
        expected[unit] = sum(recorded.get(f, tests[f] * per_test) for f in files)
    return expected


def _tests_per_file(units: Mapping[str, Iterable[str]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for nodeids in units.values():
        for nodeid in nodeids:
            counts[_file(nodeid)] += 1
    return counts


class Recorder:
    """Sums each file's test seconds over a run and writes them to tests/durations.json at its end."""

    def __init__(self, rootpath: Path) -> None:
        self.rootpath = rootpath
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        merged = {f: s for f, s in load().items() if (self.rootpath / f).is_file()}  # files gone are dropped
        merged.update({f: round(s, 1) for f, s in self.seconds.items()})
        FILE.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n", encoding="utf-8")
