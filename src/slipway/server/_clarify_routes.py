"""REST routes of bias and explainability: reports computed on registered datasets, reports computed
elsewhere and stored, and reading them back.

Each route translates a request and calls :class:`~slipway.clarify.ClarifyService`. Data never
travels raw: a remote caller computes a report on its own machine (loading the model version
from the registry) and stores its ``analysis.json``; the server computes only on registered
dataset versions it already holds, and loads models without trusting anything a request says.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict

from slipway.clarify import ClarifyReport, ClarifyService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT


async def _clarify(request: Request) -> ClarifyService:
    service: ClarifyService = request.app.state.backend.clarify
    return service


Clarify = Annotated[ClarifyService, Depends(_clarify)]
router = APIRouter(prefix="/clarify", tags=["clarify"], max_body_size=JSON_BODY_LIMIT)
_MEDIA = {".html": "text/html", ".csv": "text/csv"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunBias(_Body):
    """Bias metrics of a registered dataset version (``name`` or ``name:version``), with the
    predictions of a model version (``GROUP/VERSION``) when named."""

    config: dict[str, Any]
    dataset: str
    model: str | None = None
    methods: str | list[str] = "all"
    pre_training: bool = True
    post_training: bool | None = None


class RunExplain(_Body):
    """SHAP explanations of a model version on a registered dataset version."""

    model: str
    dataset: str
    features: list[str] | None = None
    method: str = "auto"
    max_rows: int = 1000
    baseline_rows: int = 50
    pdp_features: int = 3


class StoreReport(_Body):
    """A report computed elsewhere: its ``analysis.json``, attached to a model or dataset version."""

    analysis: dict[str, Any]
    model: str | None = None
    dataset: str | None = None
    config: dict[str, Any] | None = None


@router.post("/bias", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def run_bias(body: RunBias, clarify: Clarify) -> ClarifyReport:
    return clarify.run_bias(body.config, dataset=body.dataset, model=body.model, methods=body.methods,
                            pre_training=body.pre_training, post_training=body.post_training)


@router.post("/explain", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def run_explain(body: RunExplain, clarify: Clarify) -> ClarifyReport:
    return clarify.run_explain(body.model, dataset=body.dataset, features=body.features, method=body.method,
                               max_rows=body.max_rows, baseline_rows=body.baseline_rows,
                               pdp_features=body.pdp_features)


@router.post("/reports", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def store_report(body: StoreReport, clarify: Clarify) -> ClarifyReport:
    return clarify.store_report(json.dumps(body.analysis).encode(), model=body.model, dataset=body.dataset,
                                config=body.config)


@router.get("/reports", dependencies=[needs(Permission.READ)])
def list_reports(clarify: Clarify, model: str | None = None, dataset: str | None = None,
                 limit: int = 100) -> list[ClarifyReport]:
    return clarify.list_reports(model=model, dataset=dataset, limit=max(1, min(limit, 1000)))


@router.get("/reports/{report_id}", dependencies=[needs(Permission.READ)])
def get_report(report_id: str, clarify: Clarify) -> ClarifyReport:
    return clarify.get_report(report_id)


@router.get("/reports/{report_id}/files", dependencies=[needs(Permission.READ)])
def report_files(report_id: str, clarify: Clarify) -> list[str]:
    return clarify.report_files(report_id)


@router.get("/reports/{report_id}/files/{file_name:path}", dependencies=[needs(Permission.READ)])
def read_report(report_id: str, file_name: str, clarify: Clarify) -> Response:
    """One report file as stored (``report.html`` as HTML, local attributions as CSV, the rest as JSON)."""
    media = next((m for suffix, m in _MEDIA.items() if file_name.endswith(suffix)), "application/json")
    return Response(clarify.read_report(report_id, file_name), media_type=media)
