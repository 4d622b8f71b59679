"""Bias and explainability report pages: one report with its headline numbers and files, and the files as stored.

The model version and dataset version pages list the reports attached to them
(``templates/clarify/_reports.html``); ``report.html`` opens on its own, offline, as written.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from slipway._charts import signed_bars
from slipway.errors import NotFound
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render, svg

router = APIRouter(route_class=UIRoute)

_FILE_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".csv": "text/csv; charset=utf-8"}



@router.get("/clarify/reports/{report_id}")
def report_page(request: Request, report_id: str) -> HTMLResponse:
    service = backend_of(request).clarify
    report = service.get_report(report_id)
    analysis = service.get_analysis(report_id)
    charts = []
    for section, heading in (("pre_training_bias_metrics", "Pre-training bias"),
                             ("post_training_bias_metrics", "Post-training bias")):
        values = analysis.bias_values(section)
        if values:
            charts.append({"heading": heading, "chart": svg(signed_bars(sorted(values.items())))})
    importance = analysis.global_shap()
    if importance:
        ranked = sorted(importance.items(), key=lambda kv: -kv[1])[:30]
        charts.append({"heading": "Feature attributions (mean |SHAP|)", "chart": svg(signed_bars(ranked))})
    return render(request, "clarify/report.html", title=f"{report.kind} report {report.id}", report=report,
                  charts=charts, files=service.report_files(report_id))


@router.get("/clarify/reports/{report_id}/files/{file_name:path}")
def report_file(request: Request, report_id: str, file_name: str) -> Response:
    """One file of the report as stored."""
    service = backend_of(request).clarify
    if file_name not in service.report_files(report_id):
        raise NotFound(f"report {report_id} has no file {file_name!r}", field="file_name")
    kind = next((t for suffix, t in _FILE_TYPES.items() if file_name.endswith(suffix)), "application/octet-stream")
    return Response(service.read_report(report_id, file_name), media_type=kind)
