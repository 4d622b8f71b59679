"""The web UI: server-rendered pages over the same domain services as the REST API.

:data:`ui_router` is mounted at ``/`` by :func:`slipway.server.create_app`. Each area's pages live in
a module of their own (``_<area>.py``) with an APIRouter included here; every page extends
``templates/base.html`` and is rendered by :func:`slipway.server.ui._render.render`.
"""

from __future__ import annotations

from fastapi import APIRouter

from slipway.server.ui._assets import router as assets_router
from slipway.server.ui._audit import router as audit_router
from slipway.server.ui._clarify import router as clarify_router
from slipway.server.ui._data import router as data_router
from slipway.server.ui._endpoints import router as endpoints_router
from slipway.server.ui._experiments import router as experiments_router
from slipway.server.ui._home import router as home_router
from slipway.server.ui._lineage import router as lineage_router
from slipway.server.ui._login import router as login_router
from slipway.server.ui._models import router as models_router
from slipway.server.ui._monitoring import router as monitoring_router
from slipway.server.ui._pipelines import router as pipelines_router
from slipway.server.ui._runs import router as runs_router

ui_router = APIRouter(include_in_schema=False)
ui_router.include_router(assets_router)
ui_router.include_router(login_router)
ui_router.include_router(home_router)
ui_router.include_router(experiments_router)
ui_router.include_router(runs_router)
ui_router.include_router(models_router)
ui_router.include_router(audit_router)
ui_router.include_router(pipelines_router)
ui_router.include_router(lineage_router)
ui_router.include_router(data_router)
ui_router.include_router(endpoints_router)
ui_router.include_router(monitoring_router)
ui_router.include_router(clarify_router)

__all__ = ["ui_router"]
