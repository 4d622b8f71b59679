"""Statistics of a whole table: computed over record batches, merged, stored as ``statistics.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa

from slipway.statistics._column import DEFAULT_OPTIONS, ColumnStatistics, SketchOptions, infer_type

FORMAT_VERSION = 0
BATCH_ROWS = 65_536

TableLike: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch | pa.RecordBatchReader | Iterable[pa.RecordBatch]


class DatasetStatistics:
    """Per-column statistics of a table, in the layout of the cloud monitor's ``statistics.json``.

    Built chunk by chunk, so memory stays bounded by the batch size and the sketches whatever the
    number of rows. :meth:`merge` of the statistics of two tables gives the statistics of their
    union (rows of one, then the other): counts, sums, means, deviations, minima and maxima
    exactly, quantiles and distinct counts within their sketches' error bounds, category counts
    exactly while a column has fewer distinct values than the summary's capacity.

    Example:
        >>> stats = compute_statistics(pd.DataFrame({"x": [1.0, 2.0, None], "kind": ["a", "b", "a"]}))
        >>> stats.item_count, stats["x"].num_missing, stats["kind"].frequent.top(1)
        (3, 1, [('a', 2)])
        >>> doc = stats.to_dict()
        >>> DatasetStatistics.from_dict(doc).merge(stats).item_count
        6
    """

    def __init__(self, item_count: int = 0, columns: Iterable[ColumnStatistics] = ()) -> None:
        self.item_count = item_count
        self.columns: dict[str, ColumnStatistics] = {c.name: c for c in columns}

    def __getitem__(self, name: str) -> ColumnStatistics:
        return self.columns[name]

    def __iter__(self) -> Iterator[ColumnStatistics]:
        return iter(self.columns.values())

    def update(
        self, batch: pa.RecordBatch | pa.Table, options: SketchOptions = DEFAULT_OPTIONS,
        executor: Executor | None = None,
    ) -> None:
        """Add a chunk of rows; a column first seen here counts as missing in earlier rows.

        Args:
            batch: the rows.
            options: sketch sizes for columns first seen in this batch.
            executor: where to update the columns in parallel (the sorting and hashing release
                the GIL); None updates them one after the other.
        """
        columns = []
        for field in batch.schema:
            column = self.columns.get(field.name)
            if column is None:
                column = self.columns[field.name] = ColumnStatistics(field.name, infer_type(field.type), options)
                column.num_missing = self.item_count
            columns.append(column)
        arrays = batch.columns
        if executor is None:
            for column, array in zip(columns, arrays, strict=True):
                column.update(array)
        else:
            for _ in executor.map(ColumnStatistics.update, columns, arrays):
                pass
        for name in set(self.columns) - set(batch.schema.names):
            self.columns[name].num_missing += batch.num_rows
        self.item_count += batch.num_rows

    def merge(self, other: DatasetStatistics) -> DatasetStatistics:
        """The statistics of both tables' rows together; neither input changes.

        A column only one side has is missing in every row of the other.

        Raises:
            ValueError: if a column is numeric on one side and String on the other.
        """
        merged = []
        for name in dict.fromkeys([*self.columns, *other.columns]):
            mine, theirs = self.columns.get(name), other.columns.get(name)
            if mine is not None and theirs is not None:
                merged.append(mine.merge(theirs))
            elif mine is not None:
                merged.append(mine.with_missing(other.item_count))
            elif theirs is not None:
                merged.append(theirs.with_missing(self.item_count))
        return DatasetStatistics(self.item_count + other.item_count, merged)

    def to_dict(self) -> dict[str, Any]:
        """The ``statistics.json`` document (see ``docs/statistics.md``)."""
        return {
            "version": FORMAT_VERSION,
            "dataset": {"item_count": self.item_count},
            "features": [column.to_dict() for column in self.columns.values()],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> DatasetStatistics:
        """Read a ``statistics.json`` document.

        Raises:
            ValueError: if the document is not statistics in this layout.
        """
        try:
            count = int(document["dataset"]["item_count"])
            features = document["features"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a statistics document: missing {exc}") from None
        return cls(count, [ColumnStatistics.from_dict(entry) for entry in features])

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetStatistics:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        return f"DatasetStatistics(item_count={self.item_count}, columns={list(self.columns)})"


def iter_batches(data: TableLike, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of any table-like input, never more than ``batch_rows`` rows at a time.

    A DataFrame is converted a slice at a time, so even its Arrow copy stays small; the schema
    is inferred once from the whole frame, so every slice gets the same column types. A table
    without rows still yields one empty batch, which carries its schema.
    """
    if isinstance(data, pd.DataFrame):
        schema = pa.Schema.from_pandas(data, preserve_index=False).remove_metadata()
        if data.empty:
            yield pa.RecordBatch.from_pylist([], schema=schema)
        for start in range(0, len(data), batch_rows):
            piece = pa.Table.from_pandas(data.iloc[start:start + batch_rows], schema=schema, preserve_index=False)
            yield from piece.to_batches(max_chunksize=batch_rows)
        return
    if isinstance(data, pa.Table | pa.RecordBatch):
        if not data.num_rows:
            yield pa.RecordBatch.from_pylist([], schema=data.schema)
        yield from data.to_batches(max_chunksize=batch_rows)
        return
    for batch in data:
        yield from pa.Table.from_batches([batch]).to_batches(max_chunksize=batch_rows)


def compute_statistics(
    data: TableLike, *, options: SketchOptions = DEFAULT_OPTIONS, batch_rows: int = BATCH_ROWS
) -> DatasetStatistics:
    """Statistics of a table, a DataFrame or a stream of record batches, in bounded memory.

    Args:
        data: a DataFrame, an Arrow table or batch, a ``RecordBatchReader``, or any iterable of
            record batches (e.g. ``pyarrow.parquet.ParquetFile(path).iter_batches()``).
        options: sketch sizes (see :class:`SketchOptions`).
        batch_rows: the most rows looked at at once.

    Example:
        >>> import pyarrow.parquet as pq
        >>> stats = compute_statistics(pq.ParquetFile("train.parquet").iter_batches())
        >>> stats["age"].quantiles([0.5, 0.9])
        [9.0, 14.0]
    """
    stats = DatasetStatistics()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="slipway-stats") as pool:
        for batch in iter_batches(data, batch_rows):
            stats.update(batch, options, pool)
    return stats
