"""The two dataset routes not derived from a declared operation: registering data, which differs by mode.

Every other dataset route derives from :class:`~slipway.datasets.DatasetService`'s declarations
(:mod:`slipway.server._operations`). ``register`` takes a DataFrame, a stream, a local path or a URI;
over HTTP data arrives in one of two ways: uploaded (the raw body is a CSV, Parquet or JSON lines
file, spooled to disk as it arrives, its options in the query string) or named by a URI the server
reads itself (``s3://``, or a local path within the folders the server shares: its settings, never
the request, say which). Either answers 201 for a new version, 200 for content already held.

Registering data (reading it, its statistics) is heavy: on a server with workers, a worker
registers it, an upload staged for it in the artifact store (:func:`~slipway.server._jobs.run_job`;
the remote client prefers the ``202`` answer and polls the job).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from slipway._limits import check_json_depth
from slipway._operations import DATASETS_REGISTER
from slipway.datasets import DatasetService, Ref, Registration
from slipway.errors import InvalidInput
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._jobs import run_job
from slipway.server._operations import RAW_BODY, service_of, spooled
from slipway.server._trust import ServerSources

Datasets = Annotated[DatasetService, Depends(service_of("datasets"))]
router = APIRouter(prefix="/datasets", tags=["datasets"])


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


@router.post("/{name}/versions", status_code=status.HTTP_201_CREATED, openapi_extra=RAW_BODY,
             response_model=Registration, dependencies=[needs(Permission.WRITE)])
async def upload_version(
    name: str, request: Request, response: Response, datasets: Datasets,
    format: Annotated[str, Query(description="csv, parquet or jsonl")],
    description: str | None = None, source: str | None = None,
    tags: Annotated[str | None, Query(description="a JSON object of tags")] = None,
    produced_by: Annotated[str | None, Query(description='JSON {"kind", "id"}')] = None,
    derived_from: Annotated[str | None, Query(description='JSON [{"kind", "id"}, ...]')] = None,
) -> Any:
    """Register the uploaded file (the raw body) as the dataset's next version.

    201 for a new version; 200 (``created: false``) when the dataset already held this content.
    """
    producer = _json_query(produced_by, "produced_by")
    sources = [Ref(**r) for r in _json_query(derived_from, "derived_from") or []]
    options = {"format": format, "description": description, "tags": _json_query(tags, "tags"),
               "source": source or "upload", **_refs(Ref(**producer) if producer else None, sources)}
    async with spooled(request) as spool:
        # Reading the upload and computing its statistics is a worker's job (the upload staged for it).
        done = await run_job(request, DATASETS_REGISTER, {"name": name, **options},
                             lambda: datasets.register(name, spool, **options).model_dump(mode="json"), staged=spool)
    return _registered(done, response)


@router.post("/{name}/versions/from-uri", status_code=status.HTTP_201_CREATED, response_model=Registration,
             dependencies=[needs(Permission.WRITE)])
async def register_from_uri(
    name: str, body: RegisterFromUri, request: Request, response: Response, datasets: Datasets, sources: ServerSources
) -> Any:
    """Register data the server reads itself (``s3://``, or a path in the folders it shares: ``dataset_roots``)."""
    options = {"format": body.format, "description": body.description, "tags": body.tags,
               **_refs(body.produced_by, body.derived_from)}
    # Reading the data and computing its statistics is a worker's job (it holds the same dataset_roots).
    done = await run_job(request, DATASETS_REGISTER, {"name": name, "uri": body.uri, **options},
                         lambda: datasets.register(name, body.uri, policy=sources, **options).model_dump(mode="json"))
    return _registered(done, response)


def _registered(done: Any, response: Response) -> Any:
    """The answer of a registration: 201, or 200 for content already held; the job, when the caller
    polls it (``Prefer: respond-async``)."""
    if isinstance(done, Response):
        return done
    registration = Registration.model_validate(done)
    if not registration.created:
        response.status_code = status.HTTP_200_OK
    return registration
