"""REST routes of monitoring: baselines, monitors, executions and their reports, alarms.

Each route translates a request and calls :class:`~slipway.monitoring.MonitoringService`, which
validates and raises as for embedded callers. Data never travels raw: a remote caller computes
the statistics of its data on its own machine (the sketches are mergeable and small) and sends
the ``statistics.json`` document; model-quality runs send predictions and labels as records.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict

from slipway.errors import InvalidInput
from slipway.monitoring import Alarm, Baseline, BaselineVersion, Monitor, MonitorExecution, MonitoringService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT
from slipway.statistics import DatasetStatistics


async def _monitoring(request: Request) -> MonitoringService:
    service: MonitoringService = request.app.state.backend.monitoring
    return service


Monitoring = Annotated[MonitoringService, Depends(_monitoring)]
router = APIRouter(prefix="/monitoring", tags=["monitoring"], max_body_size=JSON_BODY_LIMIT)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateBaseline(_Body):
    """Either both documents of a baseline, or a registered dataset (``name`` or ``name:version``);
    ``model`` (``GROUP/VERSION``) links it to the model version it watches."""

    statistics: dict[str, Any] | None = None
    constraints: dict[str, Any] | None = None
    dataset: str | None = None
    model: str | None = None


class CreateMonitor(_Body):
    name: str
    kind: str = "DataQuality"
    baseline: str | None = None
    problem_type: str | None = None
    thresholds: dict[str, float] | None = None
    endpoint: str | None = None
    rules: list[str] = []
    report: str | None = None
    model: str | None = None
    bias_config: dict[str, Any] | None = None
    tolerance: float = 0.1
    bounds: dict[str, float] | None = None
    ndcg_threshold: float = 0.90


class RunMonitor(_Body):
    """What to check: statistics of the data, predictions and labels as records, or a capture window."""

    statistics: dict[str, Any] | None = None
    predictions: list[dict[str, Any]] | None = None
    labels: list[dict[str, Any]] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


class CreateAlarm(_Body):
    name: str
    monitor: str
    metric: str
    threshold: float
    comparison: str = ">"
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None
    webhooks: list[str] = []


@router.get("/baselines", dependencies=[needs(Permission.READ)])
def list_baselines(monitoring: Monitoring) -> list[BaselineVersion]:
    return monitoring.list_baselines()


@router.post("/baselines/{name}", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_baseline(name: str, body: CreateBaseline, monitoring: Monitoring) -> BaselineVersion:
    """Store the next version of a baseline."""
    if body.dataset is not None:
        return monitoring.create_baseline(name, dataset=body.dataset, model=body.model)
    if body.statistics is None or body.constraints is None:
        raise InvalidInput("give statistics and constraints, or a dataset", field="statistics")
    baseline = Baseline.from_documents(body.statistics, body.constraints)
    return monitoring.create_baseline(name, baseline, model=body.model)


@router.get("/baselines/{name}/latest", dependencies=[needs(Permission.READ)])
def get_latest_baseline(name: str, monitoring: Monitoring) -> BaselineVersion:
    return monitoring.get_baseline_version(name)


@router.get("/baselines/{name}/versions/{version}", dependencies=[needs(Permission.READ)])
def get_baseline_version(name: str, version: int, monitoring: Monitoring) -> BaselineVersion:
    return monitoring.get_baseline_version(name, version)


@router.get("/baselines/{name}/versions/{version}/documents", dependencies=[needs(Permission.READ)])
def get_baseline_documents(name: str, version: int, monitoring: Monitoring) -> dict[str, Any]:
    """``{"statistics": statistics.json, "constraints": constraints.json}``."""
    baseline = monitoring.get_baseline(name, version)
    return {"statistics": baseline.statistics.to_dict(), "constraints": baseline.constraints.model_dump(mode="json")}


@router.post("/monitors", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_monitor(body: CreateMonitor, monitoring: Monitoring) -> Monitor:
    """Custom rules are code the server will import: they must come from its ``pipeline_modules``."""
    return monitoring.create_monitor(body.name, baseline=body.baseline, kind=body.kind,
                                     problem_type=body.problem_type, thresholds=body.thresholds,
                                     endpoint=body.endpoint, rules=body.rules, report=body.report, model=body.model,
                                     bias_config=body.bias_config, tolerance=body.tolerance, bounds=body.bounds,
                                     ndcg_threshold=body.ndcg_threshold)


@router.get("/monitors", dependencies=[needs(Permission.READ)])
def list_monitors(monitoring: Monitoring) -> list[Monitor]:
    return monitoring.list_monitors()


@router.get("/monitors/{name}", dependencies=[needs(Permission.READ)])
def get_monitor(name: str, monitoring: Monitoring) -> Monitor:
    return monitoring.get_monitor(name)


@router.post("/monitors/{name}/executions", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def run_monitor(name: str, body: RunMonitor, monitoring: Monitoring) -> MonitorExecution:
    """Run once: over the given statistics, predictions and labels, or the endpoint's captured traffic."""
    data: DatasetStatistics | pd.DataFrame | None = None
    if body.statistics is not None:
        try:
            data = DatasetStatistics.from_dict(body.statistics)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="statistics") from None
    elif body.predictions is not None:
        data = pd.DataFrame.from_records(body.predictions)
    labels = pd.DataFrame.from_records(body.labels) if body.labels is not None else None
    return monitoring.run_monitor(name, data, labels=labels, start=body.start, end=body.end)


@router.get("/monitors/{name}/executions", dependencies=[needs(Permission.READ)])
def list_executions(name: str, monitoring: Monitoring, limit: int = 20) -> list[MonitorExecution]:
    return monitoring.list_executions(name, limit)


@router.get("/executions/{execution_id}", dependencies=[needs(Permission.READ)])
def get_execution(execution_id: str, monitoring: Monitoring) -> MonitorExecution:
    return monitoring.get_execution(execution_id)


@router.get("/executions/{execution_id}/files", dependencies=[needs(Permission.READ)])
def report_files(execution_id: str, monitoring: Monitoring) -> list[str]:
    return monitoring.report_files(execution_id)


@router.get("/executions/{execution_id}/files/{file_name}", dependencies=[needs(Permission.READ)])
def read_report(execution_id: str, file_name: str, monitoring: Monitoring) -> Response:
    """One report file, as stored (``report.html`` is served as HTML, the rest as JSON)."""
    media = "text/html" if file_name.endswith(".html") else "application/json"
    return Response(monitoring.read_report(execution_id, file_name), media_type=media)


@router.post("/alarms", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_alarm(body: CreateAlarm, monitoring: Monitoring) -> Alarm:
    return monitoring.create_alarm(body.name, monitor=body.monitor, metric=body.metric, threshold=body.threshold,
                                   comparison=body.comparison, evaluation_periods=body.evaluation_periods,
                                   datapoints_to_alarm=body.datapoints_to_alarm, webhooks=body.webhooks)


@router.get("/alarms", dependencies=[needs(Permission.READ)])
def list_alarms(monitoring: Monitoring, monitor: str | None = None) -> list[Alarm]:
    return monitoring.list_alarms(monitor)


@router.get("/alarms/{name}", dependencies=[needs(Permission.READ)])
def get_alarm(name: str, monitoring: Monitoring) -> Alarm:
    return monitoring.get_alarm(name)
