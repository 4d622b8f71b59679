"""The monitoring routes not derived from a declared operation: where data or an answer differs by mode.

Every other monitoring route derives from :class:`~slipway.monitoring.MonitoringService`'s
declarations (:mod:`slipway.server._operations`). Data never travels raw: a remote caller computes
the statistics of its data on its own machine (the sketches are mergeable and small) and sends the
``statistics.json`` document, so ``create_baseline`` and ``run_monitor`` take documents and records
where the service takes tables and files; model-quality runs send predictions and labels as
records. ``read_report`` answers the file as stored, not JSON.

A monitor's run other than over statistics (which is cheap) is heavy: on a server whose worker
processes do the heavy work, a worker runs it as a job (the predictions and labels sent staged in
the artifact store, not in the job's row) and the request awaits its end without holding a thread.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request, Response, status
from starlette.concurrency import run_in_threadpool

from slipway._operations import MONITOR_RUN
from slipway.errors import InvalidInput
from slipway.monitoring import Baseline, BaselineVersion, MonitorExecution, MonitoringService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._jobs import run_job
from slipway.server._operations import JSON_BODY_LIMIT, JsonBody, service_of
from slipway.statistics import DatasetStatistics

Monitoring = Annotated[MonitoringService, Depends(service_of("monitoring"))]
router = APIRouter(prefix="/monitoring", tags=["monitoring"], max_body_size=JSON_BODY_LIMIT)


class CreateBaseline(JsonBody):
    """Either both documents of a baseline, or a registered dataset (``name`` or ``name:version``);
    ``model`` (``GROUP/VERSION``) links it to the model version it watches."""

    statistics: dict[str, Any] | None = None
    constraints: dict[str, Any] | None = None
    dataset: str | None = None
    model: str | None = None


class RunMonitor(JsonBody):
    """What to check: statistics of the data, predictions and labels as records, or a capture window."""

    statistics: dict[str, Any] | None = None
    predictions: list[dict[str, Any]] | None = None
    labels: list[dict[str, Any]] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@router.post("/baselines/{name}", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_baseline(name: str, body: CreateBaseline, monitoring: Monitoring) -> BaselineVersion:
    """Store the next version of a baseline."""
    if body.dataset is not None:
        return monitoring.create_baseline(name, dataset=body.dataset, model=body.model)
    if body.statistics is None or body.constraints is None:
        raise InvalidInput("give statistics and constraints, or a dataset", field="statistics")
    baseline = Baseline.from_documents(body.statistics, body.constraints)
    return monitoring.create_baseline(name, baseline, model=body.model)


@router.post("/monitors/{name}/executions", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
async def run_monitor(name: str, body: RunMonitor, request: Request, monitoring: Monitoring) -> MonitorExecution:
    """Run once: over the given statistics, predictions and labels, or the endpoint's captured traffic."""
    if body.statistics is not None:  # cheap: done here
        return await run_in_threadpool(_run_inline, name, body, monitoring)
    # Reading the captured traffic or computing over the records sent is a worker's job: the API
    # answers others meanwhile. Records sent travel staged, as the request's body was received
    # (already validated as RunMonitor): the worker reads only its predictions and labels.
    sent = body.predictions is not None or body.labels is not None
    return await run_job(
        request, MONITOR_RUN, {"name": name, "start": _iso(body.start), "end": _iso(body.end)},
        lambda: _run_inline(name, body, monitoring), read=lambda result: monitoring.get_execution(result["execution"]),
        staged=io.BytesIO(await request.body()) if sent else None,  # the bytes FastAPI parsed: not encoded again
    )


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _run_inline(name: str, body: RunMonitor, monitoring: MonitoringService) -> MonitorExecution:
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


@router.get("/executions/{execution_id}/files/{file_name}", dependencies=[needs(Permission.READ)])
def read_report(execution_id: str, file_name: str, monitoring: Monitoring) -> Response:
    """One report file, as stored (``report.html`` is served as HTML, the rest as JSON)."""
    media = "text/html" if file_name.endswith(".html") else "application/json"
    return Response(monitoring.read_report(execution_id, file_name), media_type=media)
