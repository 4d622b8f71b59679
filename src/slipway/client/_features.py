"""Remote mode of the feature store: :class:`~slipway.features.FeatureService`'s declared operations over HTTP.

Every declared operation is derived (:mod:`slipway.client._operations`); tables travel as Parquet
both ways, so types (timestamps and their zones, integers with missing values) arrive as they left.
Written here by hand: ``ingest``, which picks the Parquet or the JSON route by what it is given;
``read_offline``, whose answer is a Parquet file; ``training_set``, which gives the rows back the
entity frame's index, as the service does.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from slipway._references import check_name
from slipway.client._operations import RemoteApi, jsonable, parse, remote
from slipway.features import FeatureService, IngestResult, Rows, TableAnswer, answered_frame, parquet_bytes

if TYPE_CHECKING:
    from slipway.client._protocols import FeaturesApi as Declared  # for mypy: the derived methods
else:
    Declared = object


@remote(FeatureService)
class RemoteFeatures(RemoteApi, Declared):
    """The feature store of a ``slipway server``: the same methods, results and errors as
    :class:`~slipway.features.FeatureService`, which documents each of them."""

    def close(self) -> None:
        """Nothing to release: the client's HTTP session is closed by the client."""

    def ingest(self, name: str, rows: Rows, *, online: bool = True) -> IngestResult:
        path = f"/feature-groups/{check_name(name)}"
        if isinstance(rows, pd.DataFrame | pa.Table):
            answer = self._http.request(
                "POST", f"{path}/ingest", params={"online": online}, content=parquet_bytes(rows), job=True
            )
        else:
            body = {"records": jsonable([dict(r) for r in rows]), "online": online}
            answer = self._http.request("POST", f"{path}/records", json=body, job=True)
        ingested: IngestResult = parse(IngestResult, answer)
        return ingested

    def read_offline(self, name: str, *, start: dt.datetime | None = None, end: dt.datetime | None = None
                     ) -> pd.DataFrame:
        params = {k: jsonable(v) for k, v in (("start", start), ("end", end)) if v is not None}
        data = b"".join(self._http.stream(f"/feature-groups/{check_name(name)}/offline", params=params))
        return pq.read_table(io.BytesIO(data)).to_pandas()

    def training_set(
        self, entities: pd.DataFrame, groups: str | Sequence[str], *, event_time_column: str = "event_time",
        max_age: dt.timedelta | None = None,
    ) -> pd.DataFrame:
        params = {"groups": [groups] if isinstance(groups, str) else list(groups),
                  "event_time_column": event_time_column,
                  "max_age_seconds": None if max_age is None else max_age.total_seconds()}
        answer = self._http.request("POST", "/training-sets", params=params, content=parquet_bytes(entities))
        frame = answered_frame(parse(TableAnswer, answer))
        frame.index = entities.index
        return frame
