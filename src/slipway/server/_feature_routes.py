"""The feature routes not derived from a declared operation: ingesting rows and reading offline rows.

Every other feature route derives from :class:`~slipway.features.FeatureService`'s declarations
(:mod:`slipway.server._operations`). ``ingest`` takes a DataFrame or a list of records: over HTTP,
a Parquet body (which keeps timestamps and their zones) or JSON records, two routes for one method;
``read_offline`` answers a Parquet file rather than JSON.

Ingesting is heavy (offline files, online writes): on a server with workers, the body is staged in
the artifact store and a worker ingests it (:func:`~slipway.server._jobs.run_job`; the remote
client prefers the ``202`` answer and polls the job).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from slipway._operations import FEATURES_INGEST
from slipway.features import PARQUET, FeatureService, IngestResult, parquet_bytes, read_parquet
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._jobs import run_job
from slipway.server._operations import RAW_BODY, service_of, spooled

Features = Annotated[FeatureService, Depends(service_of("features"))]
router = APIRouter(tags=["features"])


class Records(BaseModel):
    records: list[dict[str, Any]]
    online: bool = True


@router.post("/feature-groups/{name}/ingest", openapi_extra=RAW_BODY, response_model=IngestResult,
             dependencies=[needs(Permission.WRITE)])
async def ingest(name: str, request: Request, features: Features, online: bool = True) -> Any:
    """Ingest the rows of the Parquet body."""
    async with spooled(request) as spool:
        return await run_job(request, FEATURES_INGEST, {"name": name, "online": online, "format": "parquet"},
                             lambda: features.ingest(name, read_parquet(spool), online=online), staged=spool)


@router.post("/feature-groups/{name}/records", response_model=IngestResult, dependencies=[needs(Permission.WRITE)])
async def put_records(name: str, body: Records, request: Request, features: Features) -> Any:
    """Ingest records given as JSON (event times as ISO text or epoch seconds)."""
    return await run_job(request, FEATURES_INGEST, {"name": name, "online": body.online, "format": "records"},
                         lambda: features.ingest(name, body.records, online=body.online),
                         staged=io.BytesIO(await request.body()))  # the bytes FastAPI parsed: not encoded again


@router.get("/feature-groups/{name}/offline", response_class=Response, dependencies=[needs(Permission.READ)],
            responses={200: {"content": {PARQUET: {"schema": {"type": "string", "format": "binary"}}}}})
def read_offline(name: str, features: Features, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> Response:
    return Response(parquet_bytes(features.read_offline(name, start=start, end=end)), media_type=PARQUET)
