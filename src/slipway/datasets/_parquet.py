"""Turning a stream of batches into one canonical Parquet file, with its statistics and preview.

Canonical means: the same rows give the same bytes, however they arrived. Row groups always hold
exactly :data:`ROW_GROUP_ROWS` rows (the input's batch boundaries do not show), large string
types become plain ones and dictionaries their values (a CSV and a pandas 3 DataFrame of the same
text then agree), and schema metadata (pandas' index notes) is dropped. The sha256 of that file
is the version's content hash, so registering the same data twice finds the first version.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import hashlib
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from slipway.datasets._sources import OPEN_POLICY, DataSource, SourcePolicy, open_source
from slipway.statistics import DatasetStatistics

ROW_GROUP_ROWS = 65_536
PREVIEW_ROWS = 20
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Materialized:
    """A canonical Parquet file on local disk and what was learnt while writing it."""

    path: Path
    sha256: str
    num_rows: int
    num_bytes: int
    schema: pa.Schema
    statistics: DatasetStatistics
    preview: list[dict[str, Any]]
    source: str  # how the source describes itself: a path, a URI, "DataFrame"


def canonical_type(kind: pa.DataType) -> pa.DataType:
    """The type a column is stored with: one spelling for each kind of value."""
    if pa.types.is_dictionary(kind):
        return canonical_type(kind.value_type)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    return kind


def canonical_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, canonical_type(f.type), f.nullable) for f in schema])


def _row_groups(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.Table]:
    """Tables of exactly ROW_GROUP_ROWS rows (the last one may be shorter), canonical types.

    Data without rows still yields one empty table, which carries the schema.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    source: pa.Schema | None = None
    schema: pa.Schema | None = None
    yielded = False
    for batch in batches:
        if source is None:
            source, schema = batch.schema, canonical_schema(batch.schema)
        pending.append(batch)
        count += batch.num_rows
        while count >= ROW_GROUP_ROWS:
            table = pa.Table.from_batches(pending, schema=source)
            yield table.slice(0, ROW_GROUP_ROWS).cast(schema).combine_chunks()
            yielded = True
            rest = table.slice(ROW_GROUP_ROWS)
            pending, count = rest.to_batches(), rest.num_rows
    if source is not None and (count or not yielded):
        yield pa.Table.from_batches(pending, schema=source).cast(schema).combine_chunks()


@contextlib.contextmanager
def canonical_parquet(
    data: DataSource, *, format: str | None = None, policy: SourcePolicy = OPEN_POLICY, scratch: Path | None = None,
) -> Iterator[Materialized]:
    """Read ``data`` (see :func:`open_source`) into a canonical Parquet file, removed when the block ends.

    Example:
        >>> with canonical_parquet(pd.read_csv("abalone.csv")) as made:
        ...     made.num_rows, made.sha256[:8]
        (4177, '5f2c...')
    """
    with open_source(data, format=format, policy=policy) as (described, batches):
        made = materialize(batches, scratch, described)
    try:
        yield made
    finally:
        made.path.unlink(missing_ok=True)


def materialize(batches: Iterable[pa.RecordBatch], scratch: Path | None = None, source: str = "") -> Materialized:
    """Write ``batches`` as canonical Parquet under ``scratch`` (a temporary folder by default).

    The caller owns the returned file and deletes it. Statistics are computed on the same row
    groups as they are written, so the data is read once.

    Raises:
        InvalidInput: (from the source) if the data cannot be read; ValueError if it has no
            columns at all.
    """
    fd, name = tempfile.mkstemp(prefix="slipway-dataset-", suffix=".parquet", dir=scratch)
    os.close(fd)
    path = Path(name)
    try:
        return _write(batches, path, source)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write(batches: Iterable[pa.RecordBatch], path: Path, source: str) -> Materialized:
    stats = DatasetStatistics()
    preview: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="slipway-stats") as pool:
        for group in _row_groups(batches):
            if writer is None:
                schema = group.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            if group.num_rows:
                writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
            stats.update(group, executor=pool)
            if len(preview) < PREVIEW_ROWS:
                preview += [json_safe_row(row) for row in group.slice(0, PREVIEW_ROWS - len(preview)).to_pylist()]
    if writer is None or schema is None:
        raise ValueError("the data has no columns")
    writer.close()
    return Materialized(path, file_sha256(path), stats.item_count, path.stat().st_size, schema, stats, preview,
                        source)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def json_safe_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of Python values as JSON can carry them (see :class:`DatasetVersion.preview`)."""
    return {key: _json_safe(value) for key, value in row.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b16encode(value).decode("ascii").lower()
    if isinstance(value, dict):
        return json_safe_row(value)
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
