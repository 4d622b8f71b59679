"""Remote mode of monitoring: :class:`~slipway.monitoring.MonitoringService`'s methods over HTTP.

The server decides and raises, so embedded and remote callers get the same records and errors.
Data stays on the caller's machine: its statistics are computed here, with the service's own
code, and only the ``statistics.json`` document travels; model-quality runs send predictions and
labels as records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import pandas as pd

from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.datasets import DataSource
from slipway.monitoring import (
    Alarm,
    Baseline,
    BaselineVersion,
    Monitor,
    MonitorExecution,
    MonitorKind,
    ProblemType,
    ReportReader,
    statistics_of,
    table_of,
)
from slipway.statistics import DatasetStatistics

T = TypeVar("T")


def _q(text: str) -> str:
    return quote(text, safe="")


class RemoteMonitoring(ReportReader):
    """The monitoring service of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.monitoring.MonitoringService`, which documents each of them."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        return _parse(kind, self._http.request(method, path, **request))

    # ------------------------------------------------------------------------------ baselines

    def create_baseline(
        self, name: str, data: DataSource | Baseline | None = None, *, dataset: str | None = None,
        model: str | None = None, format: str | None = None,
    ) -> BaselineVersion:
        body: dict[str, Any] = {"dataset": dataset, "model": model}
        if data is not None:
            baseline = data if isinstance(data, Baseline) else Baseline.from_statistics(statistics_of(data,
                                                                                                       format=format))
            body |= {"statistics": baseline.statistics.to_dict(),
                     "constraints": baseline.constraints.model_dump(mode="json")}
        return self._call(BaselineVersion, "POST", f"/monitoring/baselines/{_q(name)}", json=body)

    def get_baseline_version(self, name: str, version: int | None = None) -> BaselineVersion:
        tail = "/latest" if version is None else f"/versions/{version}"
        return self._call(BaselineVersion, "GET", f"/monitoring/baselines/{_q(name)}{tail}")

    def get_baseline(self, name: str, version: int | None = None) -> Baseline:
        found = self.get_baseline_version(name, version)
        documents = self._http.request("GET", f"/monitoring/baselines/{_q(name)}/versions/{found.version}/documents")
        return Baseline.from_documents(documents["statistics"], documents["constraints"])

    def list_baselines(self) -> list[BaselineVersion]:
        return self._call(list[BaselineVersion], "GET", "/monitoring/baselines")

    # ------------------------------------------------------------------------------- monitors

    def create_monitor(
        self, name: str, *, baseline: str | None = None, kind: MonitorKind | str = MonitorKind.DATA_QUALITY,
        problem_type: ProblemType | str | None = None, thresholds: dict[str, float] | None = None,
        endpoint: str | None = None, rules: Sequence[str] = (), report: str | None = None,
        model: str | None = None, bias_config: dict[str, Any] | None = None, tolerance: float = 0.1,
        bounds: dict[str, float] | None = None, ndcg_threshold: float = 0.90,
    ) -> Monitor:
        body = {"name": name, "baseline": baseline, "kind": str(kind), "thresholds": thresholds,
                "problem_type": None if problem_type is None else str(problem_type), "endpoint": endpoint,
                "rules": list(rules), "report": report, "model": model, "bias_config": bias_config,
                "tolerance": tolerance, "bounds": bounds, "ndcg_threshold": ndcg_threshold}
        return self._call(Monitor, "POST", "/monitoring/monitors", json=body)

    def get_monitor(self, name: str) -> Monitor:
        return self._call(Monitor, "GET", f"/monitoring/monitors/{_q(name)}")

    def list_monitors(self) -> list[Monitor]:
        return self._call(list[Monitor], "GET", "/monitoring/monitors")

    # ----------------------------------------------------------------------------- executions

    def run_monitor(
        self, name: str, data: DataSource | DatasetStatistics | None = None, *, labels: DataSource | None = None,
        start: dt.datetime | None = None, end: dt.datetime | None = None, format: str | None = None,
    ) -> MonitorExecution:
        body: dict[str, Any] = {"start": _iso(start), "end": _iso(end)}
        if data is not None:
            if self.get_monitor(name).kind is MonitorKind.DATA_QUALITY:
                statistics = data if isinstance(data, DatasetStatistics) else statistics_of(data, format=format)
                body["statistics"] = statistics.to_dict()
            else:
                body["predictions"] = _records(table_of(data, format))
        if labels is not None:
            body["labels"] = _records(table_of(labels, format))
        return self._call(MonitorExecution, "POST", f"/monitoring/monitors/{_q(name)}/executions", json=body)

    def get_execution(self, execution_id: str) -> MonitorExecution:
        return self._call(MonitorExecution, "GET", f"/monitoring/executions/{_q(execution_id)}")

    def list_executions(self, name: str, limit: int = 20) -> list[MonitorExecution]:
        return self._call(list[MonitorExecution], "GET", f"/monitoring/monitors/{_q(name)}/executions",
                          params={"limit": limit})

    def report_files(self, execution_id: str) -> list[str]:
        return self._call(list[str], "GET", f"/monitoring/executions/{_q(execution_id)}/files")

    def read_report(self, execution_id: str, file_name: str) -> bytes:
        return b"".join(self._http.stream(f"/monitoring/executions/{_q(execution_id)}/files/{_q(file_name)}"))

    # --------------------------------------------------------------------------------- alarms

    def create_alarm(
        self, name: str, *, monitor: str, metric: str, threshold: float, comparison: str = ">",
        evaluation_periods: int = 1, datapoints_to_alarm: int | None = None, webhooks: Sequence[str] = (),
    ) -> Alarm:
        body = {"name": name, "monitor": monitor, "metric": metric, "threshold": threshold, "comparison": comparison,
                "evaluation_periods": evaluation_periods, "datapoints_to_alarm": datapoints_to_alarm,
                "webhooks": list(webhooks)}
        return self._call(Alarm, "POST", "/monitoring/alarms", json=body)

    def get_alarm(self, name: str) -> Alarm:
        return self._call(Alarm, "GET", f"/monitoring/alarms/{_q(name)}")

    def list_alarms(self, monitor: str | None = None) -> list[Alarm]:
        return self._call(list[Alarm], "GET", "/monitoring/alarms", params={"monitor": monitor})


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe records (NaN as null), the way the route rebuilds them."""
    parsed: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return parsed
