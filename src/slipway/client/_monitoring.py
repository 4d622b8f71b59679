"""Remote mode of monitoring: :class:`~slipway.monitoring.MonitoringService`'s declared operations over HTTP.

Every declared operation is derived (:mod:`slipway.client._operations`), and so are the report
conveniences (``read_violations``, ``read_drift``, ...), which run the service's own code over the
remote primitives. Written here by hand: ``create_baseline`` and ``run_monitor``, because data
stays on the caller's machine: its statistics are computed here, with the service's own code, and
only the ``statistics.json`` document travels; model-quality runs send predictions and labels as
records. And ``read_report``, whose answer is the file as stored, not JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd

from slipway.client._operations import RemoteApi, jsonable, parse, remote
from slipway.datasets import DataSource
from slipway.monitoring import (
    Baseline,
    BaselineVersion,
    MonitorExecution,
    MonitoringService,
    MonitorKind,
    statistics_of,
    table_of,
)
from slipway.statistics import DatasetStatistics

if TYPE_CHECKING:
    from slipway.client._protocols import MonitoringApi as Declared  # for mypy: the derived methods
else:
    Declared = object


def _q(text: str) -> str:
    return quote(text, safe="")


@remote(MonitoringService)
class RemoteMonitoring(RemoteApi, Declared):
    """The monitoring service of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.monitoring.MonitoringService`, which documents each of them."""

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
        found: BaselineVersion = parse(BaselineVersion, self._http.request("POST", f"/monitoring/baselines/{_q(name)}",
                                                                           json=body))
        return found

    def run_monitor(
        self, name: str, data: DataSource | DatasetStatistics | None = None, *, labels: DataSource | None = None,
        start: dt.datetime | None = None, end: dt.datetime | None = None, format: str | None = None,
    ) -> MonitorExecution:
        body: dict[str, Any] = {"start": jsonable(start), "end": jsonable(end)}
        if data is not None:
            if self.get_monitor(name).kind is MonitorKind.DATA_QUALITY:
                statistics = data if isinstance(data, DatasetStatistics) else statistics_of(data, format=format)
                body["statistics"] = statistics.to_dict()
            else:
                body["predictions"] = _records(table_of(data, format))
        if labels is not None:
            body["labels"] = _records(table_of(labels, format))
        path = f"/monitoring/monitors/{_q(name)}/executions"
        found: MonitorExecution = parse(MonitorExecution, self._http.request("POST", path, json=body))
        return found

    def read_report(self, execution_id: str, file_name: str) -> bytes:
        return b"".join(self._http.stream(f"/monitoring/executions/{_q(execution_id)}/files/{_q(file_name)}"))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe records (NaN as null), the way the route rebuilds them."""
    parsed: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return parsed
