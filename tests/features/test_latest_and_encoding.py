"""What materializing sends online: the latest row per id, and its payload, column-encoded in bulk."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slipway.datasets import json_safe_row
from slipway.features import FeatureService, OnlineRecord, _service
from slipway.features._latest import latest_per_id
from slipway.features._online import encode_table
from slipway.features._prefetch import prefetched
from slipway.features._types import INGEST_COLUMN, ROW_COLUMN

UTC_TS = pa.timestamp("us", tz="UTC")
T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def stamped(ids: list[object], hours: list[int], values: list[float], ingest: int) -> pa.Table:
    return pa.table(
        {
            "k": ids,
            "ts": pa.array([T + dt.timedelta(hours=h) for h in hours], UTC_TS),
            "v": values,
            INGEST_COLUMN: pa.array([ingest] * len(ids), pa.int64()),
            ROW_COLUMN: pa.array(range(len(ids)), pa.int64()),
        }
    )


def test_latest_row_per_id_breaks_event_time_ties_by_the_last_write_and_orders_by_id_text(tmp_path: Path) -> None:
    first = stamped([10, 9, 10, 2], [5, 1, 5, 1], [1.0, 2.0, 3.0, 4.0], ingest=100)
    later = stamped([9, 10, 2], [1, 4, 0], [5.0, 6.0, 7.0], ingest=200)  # 9: same time, later ingestion wins
    later = later.append_column("extra", pa.array([1, 2, 3], pa.int64()))  # a feature added since
    paths = []
    for n, table in enumerate((first, later)):
        pq.write_table(table, tmp_path / f"{n}.parquet")
        paths.append(str(tmp_path / f"{n}.parquet"))
    latest = latest_per_id(paths, "k", "ts")
    assert latest.column_names == ["k", "ts", "v", "extra"]
    # ids in text order ("10" < "2" < "9"); 10: the second of two rows at 05:00 in one ingestion
    assert latest.select(["k", "v", "extra"]).to_pylist() == [
        {"k": 10, "v": 3.0, "extra": None},
        {"k": 2, "v": 4.0, "extra": None},
        {"k": 9, "v": 5.0, "extra": 1},
    ]
    start_us = int((T + dt.timedelta(hours=2)).timestamp() * 1_000_000)
    assert latest_per_id(paths, "k", "ts", start_us=start_us).column("k").to_pylist() == [10]
    assert latest_per_id(paths, "k", "ts", end_us=0).num_rows == 0


def test_latest_per_id_matches_a_sort_on_random_rows() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    table = pa.table(
        {
            "k": pa.array([f"id{i}" for i in rng.integers(0, 700, n)]),
            "ts": pa.array(rng.integers(0, 50, n) * 3_600_000_000, pa.int64()).cast(UTC_TS),
            "v": rng.normal(size=n),
            INGEST_COLUMN: rng.integers(0, 3, n),
            ROW_COLUMN: np.arange(n),
        }
    )
    rows = table.to_pylist()
    expected: dict[str, dict[str, object]] = {}
    for row in sorted(rows, key=lambda r: (r["ts"], r[INGEST_COLUMN], r[ROW_COLUMN])):
        expected[row["k"]] = {k: row[k] for k in ("k", "ts", "v")}
    assert latest_per_id(table, "k", "ts").to_pylist() == [expected[k] for k in sorted(expected)]


def test_floats_are_encoded_to_read_back_as_the_same_numbers_and_types() -> None:
    floats = [
        1e-05,
        -6.4e-05,
        1e16,
        1e22,
        123456789012345.6,
        100.0,
        -0.0,
        0.0,
        5e-324,
        1.7976931348623157e308,
        math.nan,
        -math.inf,
        None,
        1 / 3,
        2.5e-7,
    ]
    n = len(floats)
    table = pa.table(
        {
            "id": pa.array([f"r{i}" for i in range(n)]),
            "ts": pa.array([T - dt.timedelta(days=20_000, microseconds=1500)] * n, UTC_TS),  # before 1970
            "f": pa.array(floats, pa.float64()),
            "i": pa.array([None, *range(n - 1)], pa.int64()),
            "b": pa.array([None, *[i % 2 == 0 for i in range(n - 1)]], pa.bool_()),
        }
    )
    encoded = encode_table(table, "id", "ts", ["f", "i", "b"])
    ids, times, payloads = (column.to_pylist() for column in (encoded.ids, encoded.event_times_ms, encoded.payloads))
    assert ids == [f"r{i}" for i in range(n)]
    for row, ms, payload in zip(table.to_pylist(), times, payloads, strict=True):
        micros = (row["ts"] - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        expected = OnlineRecord(row["id"], micros // 1000, json_safe_row({k: row[k] for k in ("f", "i", "b")}))
        assert ms == expected.event_time_ms  # floored to the millisecond, as // does
        decoded = json.loads(payload)
        assert decoded == json.loads(expected.encode())
        assert [type(v) for v in decoded[1].values()] == [type(v) for v in expected.values.values()]
    assert math.copysign(1, json.loads(payloads[floats.index(-0.0)])[1]["f"]) == -1  # -0.0 keeps its sign


def test_materializing_in_chunks_writes_every_latest_row(local_features: FeatureService, monkeypatch) -> None:
    """Chunks are encoded ahead, in a thread, while the previous one is written: none is lost or reordered."""
    monkeypatch.setattr(_service, "ONLINE_CHUNK", 3)
    local_features.create_group("g", {"k": "int64", "ts": "timestamp", "v": "float64"}, record_id="k", event_time="ts")
    frame = pd.DataFrame(
        {
            "k": [i % 10 for i in range(40)],
            "ts": [T + dt.timedelta(hours=i) for i in range(40)],
            "v": [float(i) for i in range(40)],
        }
    )
    local_features.ingest("g", frame, online=False)
    assert local_features.materialize("g").records == 10
    assert [r["v"] for r in local_features.get_online_features("g", list(range(10)))] == [30.0 + i for i in range(10)]


def test_prefetched_items_arrive_in_order_and_a_producer_error_is_raised_to_the_consumer() -> None:
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad chunk")

    got = prefetched(failing())
    assert next(got) == 1
    with pytest.raises(ValueError, match="bad chunk"):
        next(got)
