"""The online store contract, run unchanged against SQLite and Redis."""

from __future__ import annotations

import threading

import pytest

from slipway._time import now_ms
from slipway.features import OnlineRecord, OnlineStore

T0 = 1_700_000_000_000


def rec(record_id: str, at: int, **values: object) -> OnlineRecord:
    return OnlineRecord(record_id, at, dict(values))


def test_reads_answer_in_the_order_asked(online: OnlineStore) -> None:
    assert online.write("g", [rec("a", T0, x=1), rec("b", T0, x=2.5, s="é"), rec("c", T0, x=None)]) == 3
    got = online.read("g", ["c", "zz", "a", "b", "a"])
    assert [r.id if r else None for r in got] == ["c", None, "a", "b", "a"]
    assert got[3] == rec("b", T0, x=2.5, s="é") and got[0] == rec("c", T0, x=None)
    assert online.read("g", []) == []


def test_newer_event_times_win_and_late_data_is_ignored(online: OnlineStore) -> None:
    online.write("g", [rec("a", T0 + 10, x=1)])
    assert online.write("g", [rec("a", T0, x=0)]) == 0  # late: older than what is stored
    assert online.read("g", ["a"])[0] == rec("a", T0 + 10, x=1)
    assert online.write("g", [rec("a", T0 + 10, x=2)]) == 1  # same time: the later write wins
    assert online.write("g", [rec("a", T0 + 20, x=3), rec("a", T0 + 15, x=9)]) == 1
    assert online.read("g", ["a"])[0] == rec("a", T0 + 20, x=3)


def test_ttl_hides_expired_records(online: OnlineStore) -> None:
    now = T0 + 100_000
    online.write("g", [rec("old", T0, x=1), rec("new", now - 10, x=2)])
    fresh = online.read("g", ["old", "new"], ttl_ms=50_000, now=now)
    assert fresh[0] is None and fresh[1] == rec("new", now - 10, x=2)
    assert online.read("g", ["old"])[0] is not None  # without a TTL nothing expires


def test_writes_with_a_ttl_keep_the_newest_record_of_a_batch(online: OnlineStore) -> None:
    now = now_ms()
    batch = [rec("a", now, x=1), rec("a", now - 5, x=0), rec("b", now - 10, x=2)]  # a's older record comes last
    assert online.write("g", batch, ttl_ms=60_000) == 2
    assert online.read("g", ["a", "b"], ttl_ms=60_000) == [rec("a", now, x=1), rec("b", now - 10, x=2)]


def test_groups_are_separate_and_can_be_emptied(online: OnlineStore) -> None:
    online.write("g1", [rec("a", T0, x=1)])
    online.write("g2", [rec("a", T0, x=2)])
    assert online.read("g1", ["a"])[0].values == {"x": 1}
    online.delete_group("g1")
    online.delete_group("g1")  # idempotent
    assert online.read("g1", ["a"]) == [None]
    assert online.read("g2", ["a"])[0].values == {"x": 2}


def test_many_ids_at_once(online: OnlineStore) -> None:
    records = [rec(str(i), T0 + i, v=i) for i in range(2_500)]
    assert online.write("g", records) == 2_500
    got = online.read("g", [str(i) for i in range(2_499, -1, -1)])
    assert [r.values["v"] for r in got if r] == list(range(2_499, -1, -1))


def test_concurrent_writers_keep_the_newest(online: OnlineStore) -> None:
    def write(offset: int) -> None:
        for step in range(20):
            online.write("g", [rec("k", T0 + step * 4 + offset, w=offset)])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert online.read("g", ["k"])[0] == rec("k", T0 + 19 * 4 + 3, w=3)


@pytest.mark.parametrize("value", [0, -1.5, True, "text", [1, 2], {"a": None}])
def test_json_values_round_trip(online: OnlineStore, value: object) -> None:
    online.write("g", [rec("a", T0, v=value)])
    assert online.read("g", ["a"])[0].values == {"v": value}


def test_bulk_encoded_rows_are_all_stored_and_read_back_as_written(online: OnlineStore) -> None:
    """Materializing writes column-encoded payloads in bulk: every row lands, read back as write() would."""
    import datetime as dt
    import math

    import pyarrow as pa

    from slipway.datasets import json_safe_row
    from slipway.features._online import encode_table

    n = 20_000
    when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "ts": pa.array([when + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "x": pa.array([math.nan if i == 1 else math.inf if i == 2 else i / 3 for i in range(n)], pa.float64()),
        "n": pa.array([None if i == 3 else i for i in range(n)], pa.int64()),
        "b": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
        'odd "name", 100%': pa.array([f'a,"{i}"%s' for i in range(n)], pa.string()),
        "at": pa.array([when] * n, pa.timestamp("us", tz="UTC")),
    })
    names = table.column_names[2:]
    encoded = encode_table(table, "id", "ts", names)
    assert online.write_encoded("bulk", encoded) == n
    assert online.write_encoded("bulk", encoded) == n  # again, every key stored: equal times overwrite
    times = encoded.event_times_ms.to_pylist()
    got = online.read("bulk", [str(i) for i in range(n)])
    written = [OnlineRecord(str(row["id"]), times[i], json_safe_row({k: row[k] for k in names}))
               for i, row in enumerate(table.to_pylist())]
    assert got == written  # every row, every value
    assert [type(r.values["x"]) for r in got[4:]] == [float] * (n - 4)  # type: ignore[union-attr] # 3.0 stays a float
    assert got[1].values["x"] is None and got[2].values["x"] is None and got[3].values["n"] is None  # type: ignore[union-attr]
    assert got[7].values == {"x": 7 / 3, "n": 7, "b": False, 'odd "name", 100%': 'a,"7"%s',  # type: ignore[union-attr]
                             "at": when.isoformat()}
    assert got[-1].event_time_ms == times[-1]  # type: ignore[union-attr]
