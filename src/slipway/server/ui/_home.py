"""The home page: what needs a look right now, across pipelines, the registry, serving and monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from slipway.monitoring import AlarmState
from slipway.registry import ApprovalStatus
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render

router = APIRouter(route_class=UIRoute)

RECENT_EXECUTIONS = 10
PENDING_VERSIONS = 20


@router.get("/")
def home(request: Request) -> HTMLResponse:
    backend = backend_of(request)
    return render(
        request,
        "home.html",
        title="Home",
        executions=backend.pipelines.list_executions(limit=RECENT_EXECUTIONS),
        pending=backend.registry.search_versions(status=ApprovalStatus.PENDING, max_results=PENDING_VERSIONS),
        endpoints=backend.serving.list_endpoints(),
        alarms=[a for a in backend.monitoring.list_alarms() if a.state is AlarmState.ALARM],
    )
