"""REST routes of the tracking domain: each one translates a request, calls the service, returns the record.

No route holds a rule of its own: validation, defaults and errors come from
:class:`~slipway.tracking.TrackingService`, which embedded callers use directly. Keys that may
contain ``/`` (tags, metric keys) travel in the body or the query string, never in the path.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from slipway._redact import check_reveal, redact_record
from slipway.security import Permission
from slipway.server import _schemas as s
from slipway.server._guard import needs
from slipway.store.artifacts import ArtifactInfo
from slipway.tracking import Experiment, Metric, Run, RunComparison, RunPage, TrackingService

CHUNK = 1 << 20  # bytes per read when streaming an artifact out
JSON_BODY_LIMIT = 64 << 20  # a JSON body is parsed in memory; a full batch is well under 20 MiB
SPOOL_IN_MEMORY = 1 << 20  # an upload bigger than this is spooled to a temporary file on disk


async def _tracking(request: Request) -> TrackingService:
    """The service of the app's backend (async: no threadpool hop just to fetch it)."""
    service: TrackingService = request.app.state.backend.tracking
    return service


Tracking = Annotated[TrackingService, Depends(_tracking)]


def _reveal(
    reveal_secrets: Annotated[
        bool, Query(description="admins only: show params and tags whose keys look like secrets, not ***")
    ] = False,
) -> bool:
    return check_reveal(reveal_secrets)


# Runs and experiments leave the server with secret-looking params and tags as *** (slipway._redact).
Reveal = Annotated[bool, Depends(_reveal)]
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}

router = APIRouter()
experiments = APIRouter(prefix="/experiments", tags=["experiments"], max_body_size=JSON_BODY_LIMIT)
runs = APIRouter(prefix="/runs", tags=["runs"], max_body_size=JSON_BODY_LIMIT)
artifacts = APIRouter(prefix="/runs/{run_id}/artifacts", tags=["artifacts"])  # streamed: no limit

# ----------------------------------------------------------------------------------- experiments


@experiments.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_experiment(body: s.CreateExperiment, tracking: Tracking, reveal: Reveal) -> Experiment:
    return redact_record(tracking.create_experiment(body.name, body.description, body.tags), reveal)


@experiments.post("/get-or-create", dependencies=[needs(Permission.WRITE)])
def get_or_create_experiment(body: s.GetOrCreateExperiment, tracking: Tracking, reveal: Reveal) -> Experiment:
    return redact_record(tracking.get_or_create_experiment(body.name), reveal)


@experiments.get("", dependencies=[needs(Permission.READ)])
def list_experiments(
    tracking: Tracking, reveal: Reveal, include_deleted: bool = False, name_like: str | None = None
) -> list[Experiment]:
    found = tracking.list_experiments(include_deleted=include_deleted, name_like=name_like)
    return [redact_record(e, reveal) for e in found]


@experiments.get("/by-name", dependencies=[needs(Permission.READ)])
def get_experiment_by_name(name: str, tracking: Tracking, reveal: Reveal) -> Experiment:
    return redact_record(tracking.get_experiment_by_name(name), reveal)


@experiments.get("/{experiment_id}", dependencies=[needs(Permission.READ)])
def get_experiment(experiment_id: str, tracking: Tracking, reveal: Reveal) -> Experiment:
    return redact_record(tracking.get_experiment(experiment_id), reveal)


@experiments.patch("/{experiment_id}", dependencies=[needs(Permission.WRITE)])
def update_experiment(experiment_id: str, body: s.UpdateExperiment, tracking: Tracking, reveal: Reveal) -> Experiment:
    updated = tracking.update_experiment(experiment_id, name=body.name, description=body.description)
    return redact_record(updated, reveal)


@experiments.delete("/{experiment_id}", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def delete_experiment(experiment_id: str, tracking: Tracking) -> None:
    tracking.delete_experiment(experiment_id)


@experiments.post("/{experiment_id}/restore", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def restore_experiment(experiment_id: str, tracking: Tracking) -> None:
    tracking.restore_experiment(experiment_id)


@experiments.post("/{experiment_id}/tags", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def set_experiment_tag(experiment_id: str, body: s.KeyValue, tracking: Tracking) -> None:
    tracking.set_experiment_tag(experiment_id, body.key, body.value)


# ------------------------------------------------------------------------------------------ runs


@runs.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_run(body: s.CreateRun, tracking: Tracking, reveal: Reveal) -> Run:
    run = tracking.create_run(
        body.experiment_id, name=body.name, tags=body.tags, parent_run_id=body.parent_run_id,
        start_time=body.start_time, status=body.status,
    )
    return redact_record(run, reveal)


@runs.post("/search", dependencies=[needs(Permission.READ)])
def search_runs(body: s.SearchRuns, tracking: Tracking, reveal: Reveal) -> RunPage:
    page = tracking.search_runs(
        body.experiment_ids, body.filter, body.order_by, body.max_results, body.page_token, body.include_deleted
    )
    return redact_record(page, reveal)


@runs.post("/compare", dependencies=[needs(Permission.READ)])
def compare_runs(body: s.CompareRuns, tracking: Tracking, reveal: Reveal) -> RunComparison:
    return redact_record(tracking.compare_runs(body.run_ids), reveal)


@runs.get("/{run_id}", dependencies=[needs(Permission.READ)])
def get_run(run_id: str, tracking: Tracking, reveal: Reveal) -> Run:
    return redact_record(tracking.get_run(run_id), reveal)


@runs.patch("/{run_id}", dependencies=[needs(Permission.WRITE)])
def update_run(run_id: str, body: s.UpdateRun, tracking: Tracking, reveal: Reveal) -> Run:
    updated = tracking.update_run(run_id, status=body.status, end_time=body.end_time, name=body.name)
    return redact_record(updated, reveal)


@runs.post("/{run_id}/end", dependencies=[needs(Permission.WRITE)])
def end_run(run_id: str, body: s.EndRun, tracking: Tracking, reveal: Reveal) -> Run:
    return redact_record(tracking.end_run(run_id, body.status), reveal)


@runs.delete("/{run_id}", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def delete_run(run_id: str, tracking: Tracking) -> None:
    tracking.delete_run(run_id)


@runs.post("/{run_id}/restore", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def restore_run(run_id: str, tracking: Tracking) -> None:
    tracking.restore_run(run_id)


@runs.post("/{run_id}/metrics", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def log_metric(run_id: str, body: s.MetricPoint, tracking: Tracking) -> None:
    tracking.log_metric(run_id, body.key, body.value, body.step, body.timestamp)


@runs.get("/{run_id}/metrics/history", dependencies=[needs(Permission.READ)])
def get_metric_history(run_id: str, key: str, tracking: Tracking) -> list[Metric]:
    return tracking.get_metric_history(run_id, key)


@runs.post("/{run_id}/batch", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def log_batch(run_id: str, body: s.LogBatch, tracking: Tracking) -> None:
    points = [m.model_dump(exclude_none=True) for m in body.metrics]
    tracking.log_batch(run_id, metrics=points, params=body.params, tags=body.tags)


@runs.post("/{run_id}/params", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def log_param(run_id: str, body: s.KeyValue, tracking: Tracking) -> None:
    tracking.log_param(run_id, body.key, body.value)


@runs.post("/{run_id}/tags", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def set_tag(run_id: str, body: s.KeyValue, tracking: Tracking) -> None:
    tracking.set_tag(run_id, body.key, body.value)


@runs.delete("/{run_id}/tags", **NO_CONTENT, dependencies=[needs(Permission.WRITE)])
def delete_tag(run_id: str, key: str, tracking: Tracking) -> None:
    tracking.delete_tag(run_id, key)


# ------------------------------------------------------------------------------------- artifacts

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@artifacts.put("/{path:path}", openapi_extra=_RAW_BODY, dependencies=[needs(Permission.WRITE)])
async def upload_artifact(run_id: str, path: str, request: Request, tracking: Tracking) -> ArtifactInfo:
    """Store the raw request body at ``path``: spooled to disk past 1 MiB, never held whole in memory."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return await run_in_threadpool(tracking.log_bytes, run_id, cast(BinaryIO, spool), path)


@artifacts.get("", dependencies=[needs(Permission.READ)])
def list_artifacts(
    run_id: str,
    tracking: Tracking,
    path: Annotated[str, Query(description="folder to list; the run's root when empty")] = "",
    recursive: bool = False,
) -> list[ArtifactInfo]:
    return tracking.list_artifacts(run_id, path, recursive)


@artifacts.get(
    "/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    dependencies=[needs(Permission.READ)],
)
def download_artifact(run_id: str, path: str, tracking: Tracking) -> StreamingResponse:
    """Stream one file out in chunks; it is opened first, so a missing file is a 404, not a broken body."""
    return StreamingResponse(_read_chunks(tracking.open_artifact(run_id, path)), media_type="application/octet-stream")


def _read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


router.include_router(experiments)
router.include_router(runs)
router.include_router(artifacts)
