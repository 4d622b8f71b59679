"""Run pages: one run (params, metric charts over steps, artifacts), an artifact, and runs compared.

Artifacts are shown, never executed: text appears escaped in a ``<pre>``, images of a few raster
types are embedded, and every other file (SVG and HTML included, which could carry script) is only
offered for download as ``application/octet-stream``.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, StreamingResponse

from slipway._charts import line_chart
from slipway.errors import InvalidInput, NotFound
from slipway.server._operations import backend_of
from slipway.server.ui._render import UIRoute, render, svg
from slipway.tracking import Run, TrackingService

router = APIRouter(route_class=UIRoute)

MAX_COMPARED = 10
MAX_CHILDREN = 1000  # child runs listed on a run's page, newest first
MAX_CHARTS = 24  # metric charts on a run's page; the metrics table lists them all
MAX_COMPARE_CHARTS = 8  # on the compare page each chart reads one history per run: bounded work
TEXT_PREVIEW_BYTES = 512 * 1024
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".webp": "image/webp"}
_CHUNK = 1 << 20



def _history_chart(service: TrackingService, runs: list[Run], key: str) -> str:
    """One line per run for metric ``key`` over steps; runs with one name are told apart by their id."""
    names = [r.name for r in runs]
    series = {}
    for run in runs:
        if key in run.metrics:
            label = run.name if names.count(run.name) == 1 else f"{run.name} ({run.id[-6:]})"
            series[label] = [(m.step, m.value) for m in service.get_metric_history(run.id, key)]
    return line_chart(series, x_label="step")


@router.get("/runs/compare")
def compare_page(request: Request, run: Annotated[list[str], Query()] = []) -> HTMLResponse:  # noqa: B006
    ids = list(dict.fromkeys(run))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidInput(f"tick between 2 and {MAX_COMPARED} runs to compare (got {len(ids)})", field="run")
    service = backend_of(request).tracking
    comparison = service.compare_runs(ids)  # raises NotFound for an unknown id
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in comparison.run_ids)
    found = service.search_runs(filter=f"attributes.run_id IN ({quoted})", max_results=MAX_COMPARED,
                                include_deleted=True).runs  # statuses and times of all of them in one query
    by_id = {r.id: r for r in found}
    runs = [by_id[i] for i in comparison.run_ids]
    charts = [(key, svg(_history_chart(service, runs, key))) for key in list(comparison.metrics)[:MAX_COMPARE_CHARTS]]
    return render(request, "runs/compare.html", title="Compare runs", comparison=comparison, runs=runs, charts=charts)


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str) -> HTMLResponse:
    service = backend_of(request).tracking
    run = service.get_run(run_id)
    experiment = service.get_experiment(run.experiment_id)
    charts = [(key, svg(_history_chart(service, [run], key))) for key in sorted(run.metrics)[:MAX_CHARTS]]
    artifacts = [a for a in service.list_artifacts(run.id, recursive=True) if not a.is_dir]
    quoted = run.id.replace("'", "''")
    children = service.search_runs(filter=f"parent_run_id = '{quoted}'", max_results=MAX_CHILDREN).runs
    parent = None
    if run.parent_run_id:
        with contextlib.suppress(NotFound):  # a parent id MLflow's client named but never created
            parent = service.get_run(run.parent_run_id)
    return render(request, "runs/run.html", title=run.name, run=run, experiment=experiment, charts=charts,
                  artifacts=[(a, _image_type(a.path) is not None) for a in artifacts], children=children,
                  parent=parent)


def _image_type(path: str) -> str | None:
    """The media type of an image the UI embeds, by the file's extension; None for anything else."""
    name = path.rsplit("/", 1)[-1]
    return _IMAGE_TYPES.get(name[name.rfind("."):].lower()) if "." in name else None


def _text(head: bytes, truncated: bool) -> str | None:
    """``head`` as text when it is UTF-8 without NUL bytes (a character cut at the preview's end is fine)."""
    if b"\x00" in head:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=not truncated)
    except UnicodeDecodeError:
        return None


@router.get("/runs/{run_id}/artifacts/{path:path}")
def artifact_page(request: Request, run_id: str, path: str) -> HTMLResponse:
    """An artifact in the page: an image shown, text shown escaped (its first 512 KiB), else a download link."""
    service = backend_of(request).tracking
    run = service.get_run(run_id)
    image = _image_type(path) is not None
    text, truncated = None, False
    if not image:
        with service.open_artifact(run.id, path) as stream:
            head = stream.read(TEXT_PREVIEW_BYTES + 1)
        truncated = len(head) > TEXT_PREVIEW_BYTES
        text = _text(head[:TEXT_PREVIEW_BYTES], truncated)
    return render(request, "runs/artifact.html", title=path, run=run, path=path, image=image, text=text,
                  truncated=truncated)


@router.get("/runs/{run_id}/raw/{path:path}")
def artifact_raw(request: Request, run_id: str, path: str) -> StreamingResponse:
    """The artifact's bytes: as an image for the raster types the run page embeds, else as a download."""
    service = backend_of(request).tracking
    stream = service.open_artifact(run_id, path)
    image = _image_type(path)
    filename = path.rsplit("/", 1)[-1]
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}
    if image is None:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type=image or "application/octet-stream", headers=headers)
