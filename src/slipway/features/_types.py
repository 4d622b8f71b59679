"""Feature types and the checks that turn a caller's rows into a group's Arrow table.

Ingestion must never store a row the offline and online stores could not both answer for: every
declared feature present (extra columns refused), values cast to the declared types (a failed
cast names the column), and every row with a record id and an event time (the others are named
by row number, counting from 0 as in the caller's DataFrame).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slipway.errors import InvalidInput
from slipway.features._records import Feature

EVENT_TIME_TYPE = pa.timestamp("us", tz="UTC")
FEATURE_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": EVENT_TIME_TYPE,
}
ID_TYPES = ("string", "int64")
MAX_BAD_ROWS_SHOWN = 10
# Columns of the offline files besides the features: which ingestion wrote a row, and where in it.
# Together they order rows with equal event times: the later write wins, as it does online.
INGEST_COLUMN = "_ingest"
ROW_COLUMN = "_row"


def check_feature_type(name: str, kind: str) -> str:
    if kind not in FEATURE_TYPES:
        raise InvalidInput(f"feature {name!r} has unknown type {kind!r}; use one of {', '.join(FEATURE_TYPES)}",
                           field=f"features.{name}")
    return kind


def arrow_schema(features: Sequence[Feature]) -> pa.Schema:
    return pa.schema([pa.field(f.name, FEATURE_TYPES[f.type]) for f in features])


def to_group_table(frame: pd.DataFrame | pa.Table, features: Sequence[Feature], record_id: str,
                   event_time: str) -> pa.Table:
    """``frame`` as a table of exactly the group's features and types, or InvalidInput saying why.

    Event times may be timestamps (naive ones are UTC), ISO text, or numbers of seconds since the
    epoch; they are stored as UTC microseconds.
    """
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    names = [f.name for f in features]
    missing = [n for n in names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in names]
    if missing or extra:
        raise InvalidInput(f"the rows do not match the group's features (missing: {missing}, unknown: {extra})",
                           field="rows")
    columns = [_cast(table.column(f.name), f) for f in features]
    out = pa.table(columns, schema=arrow_schema(features))
    for column, what in ((record_id, "record id"), (event_time, "event time")):
        _refuse_nulls(out.column(column), column, what)
    return out


def _cast(column: pa.ChunkedArray, feature: Feature) -> pa.ChunkedArray:
    """Cast safely: 1.0 becomes 1, but 1.5 is refused rather than truncated."""
    try:
        if feature.type == "timestamp":
            return _to_timestamp(column)
        return column.cast(FEATURE_TYPES[feature.type])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError) as exc:
        raise InvalidInput(f"feature {feature.name!r} must be {feature.type}, not {column.type}: {exc}",
                           field=f"rows.{feature.name}") from None


def _to_timestamp(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(EVENT_TIME_TYPE)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        parsed = pd.to_datetime(pd.Series(column.to_pylist(), dtype=object), utc=True, format="ISO8601")
        return pa.chunked_array([pa.Array.from_pandas(parsed, type=EVENT_TIME_TYPE)])
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        micros = pc.multiply(column.cast(pa.float64()), 1_000_000)
        return pc.round(micros).cast(pa.int64()).cast(EVENT_TIME_TYPE)
    raise ValueError("use timestamps, ISO text or seconds since the epoch")


def to_event_micros(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Times (timestamps, ISO text or epoch seconds) as UTC microseconds since the epoch.

    Raises:
        InvalidInput: (``field=name``) for values that are not times, or missing times.
    """
    try:
        micros = _to_timestamp(column).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError) as exc:
        raise InvalidInput(f"{name!r} must hold times, not {column.type}: {exc}", field=name) from None
    _refuse_nulls(micros, name, "time")
    return micros


def _refuse_nulls(column: pa.ChunkedArray, name: str, what: str) -> None:
    if not column.null_count:
        return
    rows = pc.indices_nonzero(pc.is_null(column)).to_pylist()
    shown = ", ".join(str(r) for r in rows[:MAX_BAD_ROWS_SHOWN]) + (" ..." if len(rows) > MAX_BAD_ROWS_SHOWN else "")
    raise InvalidInput(f"{len(rows)} row(s) have no {what} ({name!r}): row {shown}", field=f"rows.{name}",
                       details={"rows": rows[:1000]})
