"""The MLflow-compatible REST API: MLflow's client (``MLFLOW_TRACKING_URI=http://slipway-server``) logs into Slipway.

Routes only translate: an MLflow request message becomes a call to a Slipway service and its
result an MLflow response message; errors answer in MLflow's shape (``error_code``, ``message``)
so the client raises its usual exceptions. Mounted by :func:`slipway.server.create_app` at
``/api/2.0/mlflow`` and ``/api/2.0/mlflow-artifacts`` and their ``/ajax-api/2.0/...`` mirrors,
which MLflow's web UI calls.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import Mount

from slipway.server._guard import needs
from slipway.server.mlflow._artifacts import router as artifacts_router
from slipway.server.mlflow._errors import ENDPOINT_NOT_FOUND, MlflowApiError, MlflowRoute
from slipway.server.mlflow._registry import router as registry_router
from slipway.server.mlflow._tracking import router as tracking_router

PREFIXES = ("/api/2.0", "/ajax-api/2.0")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _unknown_endpoints() -> APIRouter:
    """Answer calls this API does not offer with MLflow's ENDPOINT_NOT_FOUND, which the client reports clearly."""
    router = APIRouter(route_class=MlflowRoute)

    @router.api_route("/{rest:path}", methods=_METHODS, include_in_schema=False, dependencies=[needs(None)])
    def unknown(rest: str) -> dict[str, Any]:
        raise MlflowApiError(ENDPOINT_NOT_FOUND, f"Slipway's MLflow-compatible API has no endpoint {rest!r}", 404)

    return router


def mount_mlflow(app: FastAPI) -> None:
    """Add the MLflow-compatible routes to ``app`` (whose ``state.backend`` serves them).

    The JSON API is mounted under each prefix and put first among the app's routes: MLflow's
    client logs one metric per call, and a request that had to be matched against every Slipway
    route before reaching its own would spend more time routing than logging (no Slipway path
    starts with these prefixes, so the order changes nothing else). Mounted routes stay out of the
    app's OpenAPI spec, which documents Slipway's own API. The artifact routes are ordinary ones, so
    the spec declares their raw upload body.
    """
    api = APIRouter(route_class=MlflowRoute)
    api.include_router(tracking_router)
    api.include_router(registry_router)
    api.include_router(_unknown_endpoints())
    for prefix in reversed(PREFIXES):
        app.router.routes.insert(0, Mount(f"{prefix}/mlflow", app=api))
    for prefix in PREFIXES:
        documented = prefix == PREFIXES[0]  # the mirror stays out of the spec
        app.include_router(artifacts_router, prefix=f"{prefix}/mlflow-artifacts", include_in_schema=documented)


__all__ = ["PREFIXES", "mount_mlflow"]
