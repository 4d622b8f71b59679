"""Remote mode of the feature store: :class:`~slipway.features.FeatureService`'s methods over HTTP.

Each method sends one request and parses what the service returns; the server decides and raises.
Tables go both ways as Parquet, so types (timestamps and their zones, integers with missing
values) arrive as they left.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from slipway._references import check_name
from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.datasets import Registration
from slipway.errors import InvalidInput
from slipway.features import (
    UNCHANGED,
    Feature,
    FeatureGroup,
    FeatureSpec,
    IngestResult,
    MaterializeResult,
    Rows,
    parse_features,
)


def _group(name: str, rest: str = "") -> str:
    return f"/feature-groups/{check_name(name)}{rest}"


def _parquet(frame: pd.DataFrame | pa.Table) -> bytes:
    if not isinstance(frame, pa.Table | pd.DataFrame):
        raise InvalidInput("a DataFrame is needed here", field="entities")
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _frame(answer: dict[str, Any] | bytes, index: pd.Index | None = None) -> pd.DataFrame:
    """A table from the server: raw Parquet bytes, or a ``TableAnswer`` with them in base64."""
    data = answer if isinstance(answer, bytes) else base64.b64decode(answer["parquet_base64"])
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    if index is not None:
        frame.index = index
    return frame


def _names(groups: str | Sequence[str]) -> list[str]:
    return [groups] if isinstance(groups, str) else list(groups)


def _seconds(max_age: dt.timedelta | None) -> float | None:
    return None if max_age is None else max_age.total_seconds()


def _time(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


class RemoteFeatures:
    """The feature store of a ``slipway server``: the same methods, results and errors as
    :class:`~slipway.features.FeatureService`, which documents each of them."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def close(self) -> None:
        """Nothing to release: the client's HTTP session is closed by the client."""

    def create_group(
        self, name: str, features: FeatureSpec, *, record_id: str, event_time: str, description: str | None = None,
        tags: Mapping[str, Any] | None = None, ttl_seconds: int | None = None,
    ) -> FeatureGroup:
        body = {"name": name, "features": [f.model_dump() for f in parse_features(features)], "record_id": record_id,
                "event_time": event_time, "description": description, "tags": tags, "ttl_seconds": ttl_seconds}
        return _parse(FeatureGroup, self._http.request("POST", "/feature-groups", json=body))

    def get_group(self, name: str) -> FeatureGroup:
        return _parse(FeatureGroup, self._http.request("GET", _group(name)))

    def list_groups(self) -> list[FeatureGroup]:
        return _parse(list[FeatureGroup], self._http.request("GET", "/feature-groups"))

    def update_group(
        self, name: str, *, features: FeatureSpec | None = None, description: str | None = None,
        ttl_seconds: int | None = UNCHANGED,
    ) -> FeatureGroup:
        body: dict[str, Any] = {"description": description}
        if features is not None:
            body["features"] = [f.model_dump() for f in parse_features(features)]
        if ttl_seconds is not UNCHANGED:
            body["ttl_seconds"] = ttl_seconds
        return _parse(FeatureGroup, self._http.request("PATCH", _group(name), json=body))

    def schema_history(self, name: str) -> list[list[Feature]]:
        return _parse(list[list[Feature]], self._http.request("GET", _group(name, "/schemas")))

    def ingest(self, name: str, rows: Rows, *, online: bool = True) -> IngestResult:
        if isinstance(rows, pd.DataFrame | pa.Table):
            answer = self._http.request("POST", _group(name, "/ingest"), params={"online": online},
                                        content=_parquet(rows))
        else:
            records = [dict(r) for r in rows]
            answer = self._http.request("POST", _group(name, "/records"), json={"records": _jsonable(records),
                                                                                "online": online})
        return _parse(IngestResult, answer)

    def put_record(self, name: str, record: Mapping[str, Any]) -> IngestResult:
        return self.ingest(name, [record])

    def materialize(self, name: str, *, start: dt.datetime | None = None, end: dt.datetime | None = None
                    ) -> MaterializeResult:
        body = {"start": _time(start), "end": _time(end)}
        return _parse(MaterializeResult, self._http.request("POST", _group(name, "/materialize"), json=body))

    def get_online_features(self, groups: str | Sequence[str], ids: Sequence[Any]) -> list[dict[str, Any]]:
        body = {"groups": _names(groups), "ids": list(ids)}
        answer: list[dict[str, Any]] = self._http.request("POST", "/online-features", json=body)
        return answer

    def read_offline(self, name: str, *, start: dt.datetime | None = None, end: dt.datetime | None = None
                     ) -> pd.DataFrame:
        params = {k: v for k, v in (("start", _time(start)), ("end", _time(end))) if v is not None}
        return _frame(b"".join(self._http.stream(_group(name, "/offline"), params=params)))

    def training_set(
        self, entities: pd.DataFrame, groups: str | Sequence[str], *, event_time_column: str = "event_time",
        max_age: dt.timedelta | None = None,
    ) -> pd.DataFrame:
        params = {"groups": _names(groups), "event_time_column": event_time_column,
                  "max_age_seconds": _seconds(max_age)}
        answer = self._http.request("POST", "/training-sets", params=params, content=_parquet(entities))
        return _frame(answer, entities.index)

    def historical_features(
        self, groups: str | Sequence[str], start: dt.datetime, end: dt.datetime, *, max_age: dt.timedelta | None = None,
    ) -> pd.DataFrame:
        body = {"groups": _names(groups), "start": _time(start), "end": _time(end),
                "max_age_seconds": _seconds(max_age)}
        return _frame(self._http.request("POST", "/historical-features", json=body))

    def register_training_set(
        self, dataset: str, entities: pd.DataFrame, groups: str | Sequence[str], *,
        event_time_column: str = "event_time", max_age: dt.timedelta | None = None, description: str | None = None,
    ) -> Registration:
        params = {"dataset": dataset, "groups": _names(groups), "event_time_column": event_time_column,
                  "max_age_seconds": _seconds(max_age), "description": description}
        answer = self._http.request("POST", "/training-sets/register", params=params, content=_parquet(entities))
        return _parse(Registration, answer)


def _jsonable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Times as ISO text, so single records carry timestamps over JSON."""
    return [{k: v.isoformat() if isinstance(v, dt.datetime | dt.date) else v for k, v in r.items()} for r in records]
