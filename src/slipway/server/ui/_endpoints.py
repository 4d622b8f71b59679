"""Endpoint pages: variants with their weights and model versions, traffic charts, deployments, data capture.

The endpoint, its deployments and the monitors reading its capture come from the serving and
monitoring services. Traffic (requests per second, error rate, latency) is what this server's
inference routes answered, sampled from the serving host's metrics by a
:class:`~slipway.serving.TrafficHistory` started on the first look; the page redraws its charts
from ``/endpoints/{name}/traffic`` every few seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, StreamingResponse

from slipway._charts import line_chart
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, download, render, svg
from slipway.serving import Endpoint, ServingHost, TrafficHistory, TrafficPoint, traffic_split

router = APIRouter(route_class=UIRoute)
CAPTURE_SHOWN = 20  # the latest capture files listed on the page (all are counted)

def traffic_history(request: Request) -> TrafficHistory | None:
    """The serving host's traffic history (sampling from the first look); None when the app serves no inference."""
    host: ServingHost | None = getattr(request.app.state, "serving_host", None)
    return None if host is None else host.traffic()


def traffic_charts(points: dict[str, list[TrafficPoint]]) -> dict[str, str]:
    """Three charts over time, one line per variant: requests per second, error rate, p50 and p99 latency."""

    def clock(seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%H:%M:%S")

    def series(value: Any) -> dict[str, list[tuple[float, float]]]:
        return {name: [(p.at, v) for p in pts if (v := value(p)) is not None] for name, pts in points.items()}

    latency = {
        f"{name} {label}": [(p.at, v) for p in pts if (v := getattr(p, attr)) is not None]
        for name, pts in points.items()
        for label, attr in (("p50", "p50_ms"), ("p99", "p99_ms"))
    }
    options: dict[str, Any] = {"x_format": clock, "x_label": "time (UTC)", "width": 460, "height": 200}
    return {
        "requests": line_chart(series(lambda p: p.requests_per_second), **options),
        "errors": line_chart(series(lambda p: p.error_rate), **options),
        "latency": line_chart(latency, **options),
    }


def _totals(points: dict[str, list[TrafficPoint]], endpoint: Endpoint) -> list[dict[str, Any]]:
    """Per variant answering now (a rollout's canaries too): its share and the latest interval's figures."""
    return [
        {"split": s, "variant": s.variant, "latest": points[s.name][-1] if points.get(s.name) else None}
        for s in traffic_split(endpoint)
    ]


@router.get("/endpoints")
def endpoints_page(request: Request) -> HTMLResponse:
    backend = backend_of(request)
    traffic_history(request)
    return render(request, "endpoints/list.html", title="Endpoints", endpoints=backend.serving.list_endpoints())


@router.get("/endpoints/{name}")
def endpoint_page(request: Request, name: str) -> HTMLResponse:
    backend = backend_of(request)
    endpoint = backend.serving.get_endpoint(name)
    history = traffic_history(request)
    points = history.points(name) if history is not None else {}
    captured = backend.serving.list_capture(name)
    return render(
        request,
        "endpoints/endpoint.html",
        title=f"Endpoint {name}",
        endpoint=endpoint,
        deployments=backend.serving.list_deployments(name),
        monitors=[m for m in backend.monitoring.list_monitors() if m.endpoint == name],
        charts={key: svg(chart) for key, chart in traffic_charts(points).items()},
        rows=_totals(points, endpoint),
        sampling=history is not None,
        interval=history.interval if history is not None else None,
        capture_files=list(reversed(captured[-CAPTURE_SHOWN:])),
        capture_count=len(captured),
        capture_records=sum(f.records or 0 for f in captured),
    )


@router.get("/endpoints/{name}/capture/{path:path}")
def capture_file(request: Request, name: str, path: str) -> StreamingResponse:
    """One capture file, as a download (JSON lines)."""
    stream = backend_of(request).serving.read_capture(name, path)
    return download(stream, path, "application/x-ndjson")


@router.get("/endpoints/{name}/traffic")
def endpoint_traffic(request: Request, name: str) -> dict[str, Any]:
    """The charts as SVG text, polled by the endpoint page to redraw them."""
    backend_of(request).serving.get_endpoint(name)  # a 404 for an unknown endpoint, and the read check
    history = traffic_history(request)
    return {"charts": traffic_charts(history.points(name) if history is not None else {})}
