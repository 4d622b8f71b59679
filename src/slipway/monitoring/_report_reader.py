"""Conveniences over an execution's report files, shared by the service and the remote client.

Both sides implement the two primitives (``report_files`` and ``read_report``); everything built
on them lives here once, marked :func:`~slipway._operations.composed`, so the remote client runs
this same code and the embedded and remote answers cannot drift apart.
"""

from __future__ import annotations

import abc
import json
from pathlib import Path
from typing import Any

from slipway._operations import composed
from slipway.monitoring._baseline import STATISTICS_FILE
from slipway.monitoring._report import DRIFT_FILE, VIOLATIONS_FILE
from slipway.statistics import DatasetStatistics


class ReportReader(abc.ABC):
    @abc.abstractmethod
    def report_files(self, execution_id: str) -> list[str]:
        """The names of an execution's report files."""

    @abc.abstractmethod
    def read_report(self, execution_id: str, file_name: str) -> bytes:
        """One report file's bytes."""

    @composed
    def read_violations(self, execution_id: str) -> list[dict[str, str]]:
        """The entries of an execution's ``constraint_violations.json`` (none for a failed execution)."""
        if VIOLATIONS_FILE not in self.report_files(execution_id):
            return []
        found: list[dict[str, str]] = json.loads(self.read_report(execution_id, VIOLATIONS_FILE))["violations"]
        return found

    @composed
    def read_drift(self, execution_id: str) -> list[dict[str, Any]]:
        """The entries of an execution's ``drift.json``: per feature its method, score, threshold and verdict.

        None of them for a failed or model-quality execution.
        """
        if DRIFT_FILE not in self.report_files(execution_id):
            return []
        found: list[dict[str, Any]] = json.loads(self.read_report(execution_id, DRIFT_FILE))["features"]
        return found

    @composed
    def read_statistics(self, execution_id: str) -> DatasetStatistics | None:
        """The statistics of the data a data-quality execution checked (None when it has none)."""
        if STATISTICS_FILE not in self.report_files(execution_id):
            return None
        return DatasetStatistics.from_json(self.read_report(execution_id, STATISTICS_FILE))

    @composed
    def download_report(self, execution_id: str, folder: Path) -> Path:
        """Write an execution's report files into ``folder``; returns it."""
        folder.mkdir(parents=True, exist_ok=True)
        for file_name in self.report_files(execution_id):
            (folder / file_name).write_bytes(self.read_report(execution_id, file_name))
        return folder
