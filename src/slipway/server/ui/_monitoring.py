"""Monitoring pages: monitors and their schedules, executions with violation counts, reports, alarms.

A report page draws one chart per feature, baseline against current, with
:func:`slipway.monitoring.feature_chart` (the same charts as the report file), from the execution's
stored statistics and the monitor's baseline. An alarm's history is the value of its metric at each
execution of its monitor against the threshold, and the state changes the audit trail recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from slipway._backend import Backend
from slipway._charts import line_chart, signed_bars
from slipway._references import VersionRef
from slipway.automation import RunMonitor
from slipway.errors import NotFound
from slipway.events import AuditEntry
from slipway.monitoring import Alarm, MonitorExecution, MonitoringService, feature_chart
from slipway.security import Permission, has_permission
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render, svg

router = APIRouter(route_class=UIRoute)

EXECUTIONS_SHOWN = 50
ALARM_HISTORY = 100
_FILE_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json"}



def _monitor_schedules(backend: Backend, monitor: str | None = None) -> list[Any]:
    """The schedules whose action runs a monitor (this one, when named)."""
    return [
        s for s in backend.automation.list_schedules()
        if s.action.get("kind") == RunMonitor.kind and (monitor is None or s.action.get("monitor") == monitor)
    ]


def state_changes(backend: Backend, alarm: Alarm) -> list[AuditEntry] | None:
    """The alarm's recorded changes of state, newest first; None when the caller may not read the audit trail."""
    if not has_permission(Permission.AUDIT):
        return None
    entries = backend.security.audit_entries(object_id=alarm.id, limit=ALARM_HISTORY)
    return [e for e in reversed(entries) if e.action == "alarm.state_change"]


def alarm_chart(alarm: Alarm, executions: list[MonitorExecution]) -> str:
    """The alarm's metric at each execution (oldest first) and its threshold, over time."""
    values = sorted((e.started_at.timestamp(), e.metrics[alarm.metric]) for e in executions
                    if alarm.metric in e.metrics)
    series: dict[str, list[tuple[float, float]]] = {alarm.metric: values}
    if values:
        ends = {values[0][0], values[-1][0]}
        series[f"threshold ({alarm.comparison} {alarm.threshold:g} alarms)"] = [(t, alarm.threshold) for t in ends]
    # Runs within an hour differ by their seconds; longer spans by their day and minute.
    within_hour = not values or values[-1][0] - values[0][0] < 3600
    pattern = "%H:%M:%S" if within_hour else "%m-%d %H:%M"

    def clock(seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(pattern)

    return line_chart(series, width=460, height=180, x_label="execution start (UTC)", x_format=clock)


@router.get("/monitoring")
def monitoring_page(request: Request) -> HTMLResponse:
    backend = backend_of(request)
    service = backend_of(request).monitoring
    monitors = service.list_monitors()
    latest = {m.name: next(iter(service.list_executions(m.name, limit=1)), None) for m in monitors}
    return render(
        request,
        "monitoring/list.html",
        title="Monitoring",
        monitors=monitors,
        latest=latest,
        schedules=_monitor_schedules(backend),
        alarms=service.list_alarms(),
        baselines=service.list_baselines(),
    )


@router.get("/monitoring/{name}")
def monitor_page(request: Request, name: str) -> HTMLResponse:
    backend = backend_of(request)
    service = backend_of(request).monitoring
    monitor = service.get_monitor(name)
    executions = service.list_executions(name, limit=EXECUTIONS_SHOWN)
    alarms = service.list_alarms(monitor=name)
    history = service.list_executions(name, limit=ALARM_HISTORY)
    return render(
        request,
        "monitoring/monitor.html",
        title=f"Monitor {name}",
        monitor=monitor,
        executions=executions,
        schedules=_monitor_schedules(backend, name),
        alarms=[
            {"alarm": a, "chart": svg(alarm_chart(a, history)), "changes": state_changes(backend, a)} for a in alarms
        ],
    )


@router.get("/monitoring/{name}/executions/{execution_id}")
def report_page(request: Request, name: str, execution_id: str) -> HTMLResponse:
    service = backend_of(request).monitoring
    monitor = service.get_monitor(name)
    execution = _execution(service, name, execution_id)
    current = service.read_statistics(execution_id)
    baseline = None
    if current is not None and monitor.baseline is not None:
        baseline = service.get_baseline(*VersionRef.parse(monitor.baseline, "baseline")).statistics
    drift = {d["feature_name"]: d for d in service.read_drift(execution_id)}
    features = []
    if current is not None:
        for column in current:
            before = baseline.columns.get(column.name) if baseline is not None else None
            features.append({
                "name": column.name,
                "type": column.inferred_type,
                "drift": drift.get(column.name),
                "baseline_mean": before.mean if before is not None and before.numeric else None,
                "current_mean": column.mean if column.numeric else None,
                "chart": svg(feature_chart(before, column)),
            })
    return render(
        request,
        "monitoring/report.html",
        title=f"{name}: report of {execution_id}",
        monitor=monitor,
        execution=execution,
        violations=service.read_violations(execution_id),
        features=features,
        item_count=current.item_count if current is not None else None,
        baseline_count=baseline.item_count if baseline is not None else None,
        files=service.report_files(execution_id),
        clarify_charts=_clarify_charts(execution),
    )


def _clarify_charts(execution: MonitorExecution) -> list[dict[str, Any]]:
    """Bars of a bias or attribution-drift run's metrics (none for the other kinds)."""
    charts = []
    for prefix, heading in (("bias.", "Post-training bias metrics"), ("attribution.", "Feature attributions")):
        values = sorted((k[len(prefix):], v) for k, v in execution.metrics.items()
                        if k.startswith(prefix) and k != "attribution.ndcg")
        if values:
            if prefix == "attribution.":
                values.sort(key=lambda kv: -kv[1])
            charts.append({"heading": heading, "chart": svg(signed_bars(values))})
    return charts


@router.get("/monitoring/{name}/executions/{execution_id}/files/{file_name}")
def report_file(request: Request, name: str, execution_id: str, file_name: str) -> Response:
    """One file of the report as stored (``report.html`` opens on its own, offline)."""
    service = backend_of(request).monitoring
    _execution(service, name, execution_id)
    if file_name not in service.report_files(execution_id):
        raise NotFound(f"execution {execution_id} has no report file {file_name!r}", field="file_name")
    kind = next((t for suffix, t in _FILE_TYPES.items() if file_name.endswith(suffix)), "application/octet-stream")
    return Response(service.read_report(execution_id, file_name), media_type=kind)


def _execution(service: MonitoringService, name: str, execution_id: str) -> MonitorExecution:
    execution = service.get_execution(execution_id)
    if execution.monitor != name:
        raise NotFound(f"monitor {name!r} has no execution {execution_id}", field="execution_id")
    return execution
