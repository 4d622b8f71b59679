"""REST routes of the feature store: each one translates a request, calls the service, returns the result.

No route holds a rule of its own: :class:`~slipway.features.FeatureService` validates and raises.
Tables travel as Parquet both ways, which keeps the types (timestamps with their zone) that JSON
would lose: rows to ingest and entity frames come as the raw body; offline rows go out as a
Parquet download, and computed tables (training sets, time ranges) as :class:`TableAnswer`, JSON
carrying the Parquet file in base64. Single records and online reads are plain JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import tempfile
from typing import Annotated, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from slipway.datasets import Registration
from slipway.errors import InvalidInput
from slipway.features import Feature, FeatureGroup, FeatureService, IngestResult, MaterializeResult
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import RAW_BODY as _RAW_BODY
from slipway.server._operations import SPOOL_IN_MEMORY

PARQUET = "application/vnd.apache.parquet"
_TABLE_OUT: dict[int | str, dict[str, Any]] = {
    200: {"content": {PARQUET: {"schema": {"type": "string", "format": "binary"}}}}
}


async def _features(request: Request) -> FeatureService:
    service: FeatureService = request.app.state.backend.features
    return service


Features = Annotated[FeatureService, Depends(_features)]
router = APIRouter(tags=["features"])


class CreateGroup(BaseModel):
    name: str
    features: list[Feature]
    record_id: str
    event_time: str
    description: str | None = None
    tags: dict[str, str] | None = None
    ttl_seconds: int | None = None


class UpdateGroup(BaseModel):
    """Only the fields given change; ``ttl_seconds: null`` removes the TTL."""

    features: list[Feature] | None = None
    description: str | None = None
    ttl_seconds: int | None = None


class Records(BaseModel):
    records: list[dict[str, Any]]
    online: bool = True


class Window(BaseModel):
    start: dt.datetime | None = None
    end: dt.datetime | None = None


class OnlineRequest(BaseModel):
    groups: list[str]
    ids: list[str | int]


class HistoricalRequest(BaseModel):
    groups: list[str]
    start: dt.datetime
    end: dt.datetime
    max_age_seconds: float | None = None


def _max_age(seconds: float | None) -> dt.timedelta | None:
    return None if seconds is None else dt.timedelta(seconds=seconds)


async def _read_table(request: Request) -> pd.DataFrame:
    """The raw body as a Parquet table, spooled to disk past 1 MiB."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        try:
            return await run_in_threadpool(lambda: pq.read_table(spool).to_pandas())
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"the body must be a Parquet file: {exc}", field="body") from None


class TableAnswer(BaseModel):
    """A computed table: its row count and its Parquet file, base64-encoded."""

    rows: int
    parquet_base64: str


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
    return out.getvalue()


def _answer(frame: pd.DataFrame) -> TableAnswer:
    return TableAnswer(rows=len(frame), parquet_base64=base64.b64encode(_parquet_bytes(frame)).decode("ascii"))


@router.post("/feature-groups", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_group(body: CreateGroup, features: Features) -> FeatureGroup:
    return features.create_group(body.name, body.features, record_id=body.record_id, event_time=body.event_time,
                                  description=body.description, tags=body.tags, ttl_seconds=body.ttl_seconds)


@router.get("/feature-groups", dependencies=[needs(Permission.READ)])
def list_groups(features: Features) -> list[FeatureGroup]:
    return features.list_groups()


@router.get("/feature-groups/{name}", dependencies=[needs(Permission.READ)])
def get_group(name: str, features: Features) -> FeatureGroup:
    return features.get_group(name)


@router.patch("/feature-groups/{name}", dependencies=[needs(Permission.WRITE)])
def update_group(name: str, body: UpdateGroup, features: Features) -> FeatureGroup:
    ttl: Any = {"ttl_seconds": body.ttl_seconds} if "ttl_seconds" in body.model_fields_set else {}
    return features.update_group(name, features=body.features, description=body.description, **ttl)


@router.get("/feature-groups/{name}/schemas", dependencies=[needs(Permission.READ)])
def schema_history(name: str, features: Features) -> list[list[Feature]]:
    return features.schema_history(name)


@router.post("/feature-groups/{name}/ingest", openapi_extra=_RAW_BODY, dependencies=[needs(Permission.WRITE)])
async def ingest(name: str, request: Request, features: Features, online: bool = True) -> IngestResult:
    """Ingest the rows of the Parquet body."""
    frame = await _read_table(request)
    return await run_in_threadpool(features.ingest, name, frame, online=online)


@router.post("/feature-groups/{name}/records", dependencies=[needs(Permission.WRITE)])
def put_records(name: str, body: Records, features: Features) -> IngestResult:
    """Ingest records given as JSON (event times as ISO text or epoch seconds)."""
    return features.ingest(name, body.records, online=body.online)


@router.post("/feature-groups/{name}/materialize", dependencies=[needs(Permission.WRITE)])
def materialize(name: str, body: Window, features: Features) -> MaterializeResult:
    return features.materialize(name, start=body.start, end=body.end)


@router.get("/feature-groups/{name}/offline", response_class=Response, responses=_TABLE_OUT,
            dependencies=[needs(Permission.READ)])
def read_offline(name: str, features: Features, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> Response:
    return Response(_parquet_bytes(features.read_offline(name, start=start, end=end)), media_type=PARQUET)


@router.post("/online-features", dependencies=[needs(Permission.READ)])
def get_online_features(body: OnlineRequest, features: Features) -> list[dict[str, Any]]:
    return features.get_online_features(body.groups, body.ids)


@router.post("/training-sets", openapi_extra=_RAW_BODY, dependencies=[needs(Permission.READ)])
async def training_set(
    request: Request, features: Features, groups: Annotated[list[str], Query()],
    event_time_column: str = "event_time", max_age_seconds: float | None = None,
) -> TableAnswer:
    """The point-in-time training set of the entity frame in the Parquet body."""
    entities = await _read_table(request)
    frame = await run_in_threadpool(lambda: features.training_set(
        entities, groups, event_time_column=event_time_column, max_age=_max_age(max_age_seconds)))
    return _answer(frame)


@router.post("/training-sets/register", openapi_extra=_RAW_BODY, status_code=status.HTTP_201_CREATED,
             dependencies=[needs(Permission.WRITE)])
async def register_training_set(
    request: Request, features: Features, dataset: str, groups: Annotated[list[str], Query()],
    event_time_column: str = "event_time", max_age_seconds: float | None = None, description: str | None = None,
) -> Registration:
    entities = await _read_table(request)
    return await run_in_threadpool(lambda: features.register_training_set(
        dataset, entities, groups, event_time_column=event_time_column, max_age=_max_age(max_age_seconds),
        description=description))


@router.post("/historical-features", dependencies=[needs(Permission.READ)])
def historical_features(body: HistoricalRequest, features: Features) -> TableAnswer:
    return _answer(features.historical_features(body.groups, body.start, body.end,
                                                max_age=_max_age(body.max_age_seconds)))
