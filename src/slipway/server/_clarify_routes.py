"""The clarify routes not derived from a declared operation: reports computed by the server, and a report's files.

Every other clarify route derives from :class:`~slipway.clarify.ClarifyService`'s declarations
(:mod:`slipway.server._operations`). ``run_bias`` and ``run_explain`` differ by mode: data never
travels raw, so a remote caller computes a report on a table on its own machine (loading the model
version from the registry) and stores its ``analysis.json``; the server computes only on registered
dataset versions it already holds, and loads models without trusting anything a request says
(these routes take no data and no ``trusted``). ``read_report`` answers the file as stored.

Computing a report (a model's predictions over a dataset version, SHAP explanations) is heavy: on
a server whose worker processes do the heavy work, a worker computes it as a job and the request
awaits its end without holding a thread (:func:`~slipway.server._jobs.run_job`), as a monitor's
run over captured traffic does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from slipway._operations import CLARIFY_BIAS, CLARIFY_EXPLAIN
from slipway.clarify import ClarifyReport, ClarifyService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._jobs import run_job
from slipway.server._operations import JSON_BODY_LIMIT, JsonBody, service_of

Clarify = Annotated[ClarifyService, Depends(service_of("clarify"))]
router = APIRouter(prefix="/clarify", tags=["clarify"], max_body_size=JSON_BODY_LIMIT)
_MEDIA = {".html": "text/html", ".csv": "text/csv"}


class RunBias(JsonBody):
    """Bias metrics of a registered dataset version (``name`` or ``name:version``), with the
    predictions of a model version (``GROUP/VERSION``) when named."""

    config: dict[str, Any]
    dataset: str
    model: str | None = None
    methods: str | list[str] = "all"
    pre_training: bool = True
    post_training: bool | None = None


class RunExplain(JsonBody):
    """SHAP explanations of a model version on a registered dataset version."""

    model: str
    dataset: str
    features: list[str] | None = None
    method: str = "auto"
    max_rows: int = 1000
    baseline_rows: int = 50
    pdp_features: int = 3


@router.post("/bias", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
async def run_bias(body: RunBias, request: Request, clarify: Clarify) -> ClarifyReport:
    return await _computed(request, CLARIFY_BIAS, body, clarify, lambda: clarify.run_bias(
        body.config, dataset=body.dataset, model=body.model, methods=body.methods,
        pre_training=body.pre_training, post_training=body.post_training))


@router.post("/explain", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
async def run_explain(body: RunExplain, request: Request, clarify: Clarify) -> ClarifyReport:
    return await _computed(request, CLARIFY_EXPLAIN, body, clarify, lambda: clarify.run_explain(
        body.model, dataset=body.dataset, features=body.features, method=body.method, max_rows=body.max_rows,
        baseline_rows=body.baseline_rows, pdp_features=body.pdp_features))


async def _computed(request: Request, kind: str, body: JsonBody, clarify: ClarifyService,
                    here: Callable[[], ClarifyReport]) -> ClarifyReport:
    """The report computed by a worker from the body's fields (the service's arguments of the same
    names), or ``here`` by a server without workers."""
    return await run_job(request, kind, body.model_dump(mode="json"), here,
                         read=lambda result: clarify.get_report(result["report"]))


@router.get("/reports/{report_id}/files/{file_name:path}", dependencies=[needs(Permission.READ)])
def read_report(report_id: str, file_name: str, clarify: Clarify) -> Response:
    """One report file as stored (``report.html`` as HTML, local attributions as CSV, the rest as JSON)."""
    media = next((m for suffix, m in _MEDIA.items() if file_name.endswith(suffix)), "application/json")
    return Response(clarify.read_report(report_id, file_name), media_type=media)
