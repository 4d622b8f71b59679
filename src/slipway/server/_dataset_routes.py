"""REST routes of datasets: each one translates a request, calls the service, returns the record.

No route holds a rule of its own: :class:`~slipway.datasets.DatasetService` validates and raises,
as for embedded callers. Data reaches the server in one of two ways: uploaded (the raw body is a
CSV, Parquet or JSON lines file, spooled to disk as it arrives) or named by a URI the server reads
itself (``s3://``, or a local path within the folders the server shares).
"""

from __future__ import annotations

import json
import tempfile
from typing import Annotated, Any, BinaryIO, Literal, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from slipway._limits import check_json_depth
from slipway.datasets import Dataset, DatasetDiff, DatasetService, DatasetVersion, Registration
from slipway.errors import InvalidInput
from slipway.lineage import LineageGraph
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import RAW_BODY as _RAW_BODY
from slipway.server._operations import SPOOL_IN_MEMORY
from slipway.server._operations import read_chunks as _read_chunks
from slipway.server._trust import ServerSources

_BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}


async def _datasets(request: Request) -> DatasetService:
    service: DatasetService = request.app.state.backend.datasets
    return service


Datasets = Annotated[DatasetService, Depends(_datasets)]
router = APIRouter(prefix="/datasets", tags=["datasets"])


class Ref(BaseModel):
    """A lineage node: ``{"kind": "run", "id": "..."}``."""

    kind: str
    id: str


class RegisterFromUri(BaseModel):
    uri: str
    format: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    produced_by: Ref | None = None
    derived_from: list[Ref] = []


def _refs(produced_by: Ref | None, derived_from: list[Ref]) -> dict[str, Any]:
    return {"produced_by": (produced_by.kind, produced_by.id) if produced_by else None,
            "derived_from": [(r.kind, r.id) for r in derived_from]}


def _json_query(value: str | None, field: str) -> Any:
    """A JSON value passed in the query string (tags and lineage refs of an upload)."""
    if value is None:
        return None
    check_json_depth(value, field)
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidInput(f"{field} must be JSON", field=field) from None


@router.get("", dependencies=[needs(Permission.READ)])
def list_datasets(datasets: Datasets) -> list[Dataset]:
    return datasets.list_datasets()


@router.get("/{name}", dependencies=[needs(Permission.READ)])
def get_dataset(name: str, datasets: Datasets) -> Dataset:
    return datasets.get_dataset(name)


@router.post("/{name}/versions", status_code=status.HTTP_201_CREATED, openapi_extra=_RAW_BODY,
             dependencies=[needs(Permission.WRITE)])
async def upload_version(
    name: str, request: Request, response: Response, datasets: Datasets,
    format: Annotated[str, Query(description="csv, parquet or jsonl")],
    description: str | None = None, source: str | None = None,
    tags: Annotated[str | None, Query(description="a JSON object of tags")] = None,
    produced_by: Annotated[str | None, Query(description='JSON {"kind", "id"}')] = None,
    derived_from: Annotated[str | None, Query(description='JSON [{"kind", "id"}, ...]')] = None,
) -> Registration:
    """Register the uploaded file (the raw body) as the dataset's next version.

    201 for a new version; 200 (``created: false``) when the dataset already held this content.
    """
    producer = _json_query(produced_by, "produced_by")
    sources = [Ref(**r) for r in _json_query(derived_from, "derived_from") or []]
    refs = _refs(Ref(**producer) if producer else None, sources)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        done = await run_in_threadpool(
            lambda: datasets.register(name, cast(BinaryIO, spool), format=format, description=description,
                                      tags=_json_query(tags, "tags"), source=source or "upload", **refs))
    return _answer(done, response)


@router.post("/{name}/versions/from-uri", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def register_from_uri(
    name: str, body: RegisterFromUri, response: Response, datasets: Datasets, sources: ServerSources
) -> Registration:
    """Register data the server reads itself (``s3://``, or a path in the folders it shares: ``dataset_roots``)."""
    done = datasets.register(name, body.uri, format=body.format, description=body.description, tags=body.tags,
                             policy=sources, **_refs(body.produced_by, body.derived_from))
    return _answer(done, response)


def _answer(done: Registration, response: Response) -> Registration:
    if not done.created:
        response.status_code = status.HTTP_200_OK
    return done


@router.get("/{name}/versions", dependencies=[needs(Permission.READ)])
def list_versions(name: str, datasets: Datasets) -> list[DatasetVersion]:
    return datasets.list_versions(name)


@router.get("/{name}/latest", dependencies=[needs(Permission.READ)])
def get_latest(name: str, datasets: Datasets) -> DatasetVersion:
    return datasets.get_version(name)


@router.get("/{name}/versions/{version}", dependencies=[needs(Permission.READ)])
def get_version(name: str, version: int, datasets: Datasets) -> DatasetVersion:
    return datasets.get_version(name, version)


@router.get("/{name}/versions/{version}/statistics", dependencies=[needs(Permission.READ)])
def get_statistics(name: str, version: int, datasets: Datasets) -> dict[str, Any]:
    """The version's ``statistics.json`` (see docs/statistics.md)."""
    return datasets.get_statistics(name, version).to_dict()


@router.get("/{name}/versions/{version}/data", response_class=StreamingResponse, responses=_BINARY,
            dependencies=[needs(Permission.READ)])
def download_data(name: str, version: int, datasets: Datasets) -> StreamingResponse:
    """The version's Parquet file, streamed."""
    return StreamingResponse(_read_chunks(datasets.open(name, version)), media_type="application/octet-stream")


@router.get("/{name}/diff", dependencies=[needs(Permission.READ)])
def diff(name: str, first: int, second: int, datasets: Datasets) -> DatasetDiff:
    return datasets.diff(name, first, second)


@router.post("/{name}/versions/{version}/reads", dependencies=[needs(Permission.WRITE)])
def record_read(name: str, version: int, body: Ref, datasets: Datasets) -> DatasetVersion:
    return datasets.record_read(name, version, (body.kind, body.id))


@router.post("/{name}/versions/{version}/writes", dependencies=[needs(Permission.WRITE)])
def record_write(name: str, version: int, body: Ref, datasets: Datasets) -> DatasetVersion:
    return datasets.record_write(name, version, (body.kind, body.id))


@router.get("/{name}/versions/{version}/lineage", dependencies=[needs(Permission.READ)])
def lineage(
    name: str, version: int, datasets: Datasets, direction: Literal["upstream", "downstream"] = "downstream",
    depth: int = 3,
) -> LineageGraph:
    return datasets.lineage(name, version, direction=direction, depth=depth)
