"""Tables as the API carries them: Parquet both ways, which keeps the types (timestamps with their zone)
that JSON would lose.

Rows to ingest and entity frames go up as a raw Parquet body; offline rows come down as a Parquet
file, and computed tables (training sets, historical features) as :class:`TableAnswer`, JSON
carrying the Parquet file in base64. The faces use these with the service's annotations
(:mod:`slipway._operations`).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Annotated, Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from slipway._operations import Wire
from slipway.errors import InvalidInput

PARQUET = "application/vnd.apache.parquet"


class TableAnswer(BaseModel):
    """A computed table: its row count and its Parquet file, base64-encoded."""

    rows: int
    parquet_base64: str


def parquet_bytes(frame: pd.DataFrame | pa.Table, field: str = "entities") -> bytes:
    """A table as one Parquet file, the index left out."""
    if not isinstance(frame, pa.Table | pd.DataFrame):
        raise InvalidInput("a DataFrame is needed here", field=field)
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def read_parquet(stream: BinaryIO | bytes) -> pd.DataFrame:
    """A Parquet file (a request's body) as a DataFrame."""
    try:
        return pq.read_table(io.BytesIO(stream) if isinstance(stream, bytes) else stream).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"the body must be a Parquet file: {exc}", field="body") from None


def table_answer(frame: pd.DataFrame) -> TableAnswer:
    return TableAnswer(rows=len(frame), parquet_base64=base64.b64encode(parquet_bytes(frame)).decode("ascii"))


def answered_frame(answer: TableAnswer) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(base64.b64decode(answer.parquet_base64))).to_pandas()


def _seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, dt.timedelta) else value  # else as given: the server refuses it


# A DataFrame argument is the raw Parquet body; a DataFrame result a TableAnswer.
ParquetBody = Wire(BinaryIO, to_wire=parquet_bytes, from_wire=read_parquet)
AnsweredTable = Annotated[pd.DataFrame, Wire(TableAnswer, to_wire=table_answer, from_wire=answered_frame)]
GroupNames = Wire(list[str], to_wire=lambda groups: [groups] if isinstance(groups, str) else list(groups))
MaxAge = Wire(float, name="max_age_seconds", to_wire=_seconds, from_wire=lambda seconds: dt.timedelta(seconds=seconds))
