"""Conveniences over an execution's report files, shared by the service and the remote client.

Both sides implement the two primitives (``report_files`` and ``read_report``); everything built
on them lives here once, so the embedded and remote answers cannot drift apart.
"""

from __future__ import annotations

import abc
import json
from pathlib import Path

from slipway.monitoring._report import VIOLATIONS_FILE


class ReportReader(abc.ABC):
    @abc.abstractmethod
    def report_files(self, execution_id: str) -> list[str]:
        """The names of an execution's report files."""

    @abc.abstractmethod
    def read_report(self, execution_id: str, file_name: str) -> bytes:
        """One report file's bytes."""

    def read_violations(self, execution_id: str) -> list[dict[str, str]]:
        """The entries of an execution's ``constraint_violations.json`` (none for a failed execution)."""
        if VIOLATIONS_FILE not in self.report_files(execution_id):
            return []
        found: list[dict[str, str]] = json.loads(self.read_report(execution_id, VIOLATIONS_FILE))["violations"]
        return found

    def download_report(self, execution_id: str, folder: Path) -> Path:
        """Write an execution's report files into ``folder``; returns it."""
        folder.mkdir(parents=True, exist_ok=True)
        for file_name in self.report_files(execution_id):
            (folder / file_name).write_bytes(self.read_report(execution_id, file_name))
        return folder
