"""The embedded online store: one SQLite file (WAL), one row per (group, id)."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from slipway.errors import ServiceUnavailable
from slipway.features._online import EncodedRecords, OnlineRecord, OnlineStore

_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
_ROWS_PER_INSERT = 200  # rows per upsert statement in bulk writes: 800 parameters, a third less CPU than one per row
_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    grp TEXT NOT NULL, id TEXT NOT NULL, event_ms INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (grp, id)
) WITHOUT ROWID
"""
_UPSERT = """
INSERT INTO online_features (grp, id, event_ms, payload) VALUES {rows}
ON CONFLICT (grp, id) DO UPDATE SET event_ms = excluded.event_ms, payload = excluded.payload
WHERE excluded.event_ms >= online_features.event_ms
"""
_UPSERT_ONE = _UPSERT.format(rows="(?, ?, ?, ?)")
_UPSERT_MANY = _UPSERT.format(rows=", ".join(["(?, ?, ?, ?)"] * _ROWS_PER_INSERT))


class SqliteOnlineStore(OnlineStore):
    """Online features in a SQLite file of their own (not the metadata database).

    A file of its own keeps feature writes, which come in bulk, from queueing behind metadata
    writes, and lets the online store stay on the machine that serves while the metadata moves
    to PostgreSQL. Each thread gets its own connection; reads never wait for writers (WAL).

    Args:
        path: the database file; created with its folder if missing.

    Example:
        >>> store = SqliteOnlineStore(".slipway/online.db")
        >>> store.write("customers", [OnlineRecord("c1", 1_700_000_000_000, {"spend": 12.5})])
        1
        >>> store.read("customers", ["c1", "c2"])[1] is None
        True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._connection() as conn:
            conn.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SqliteOnlineStore({str(self.path)!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self._local.conn = conn
                with self._lock:
                    self._connections.append(conn)
            yield conn
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable(f"the online store {self.path} failed: {exc}") from exc

    def write_encoded(self, group: str, records: EncodedRecords, *, ttl_ms: int | None = None) -> int:
        if not len(records):
            return 0
        ids, event_times_ms = records.ids.to_pylist(), records.event_times_ms.to_pylist()
        payloads = records.payloads.to_pylist()
        whole = len(ids) - len(ids) % _ROWS_PER_INSERT
        many = (tuple(itertools.chain.from_iterable(zip(
                    itertools.repeat(group, _ROWS_PER_INSERT), ids[start:start + _ROWS_PER_INSERT],
                    event_times_ms[start:start + _ROWS_PER_INSERT], payloads[start:start + _ROWS_PER_INSERT],
                    strict=True)))
                for start in range(0, whole, _ROWS_PER_INSERT))
        rest = zip(itertools.repeat(group), ids[whole:], event_times_ms[whole:], payloads[whole:], strict=False)
        with self._connection() as conn:
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT_MANY, many)
                conn.executemany(_UPSERT_ONE, rest)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return conn.total_changes - before

    def _read(self, group: str, ids: Sequence[str]) -> list[OnlineRecord | None]:
        found: dict[str, str] = {}
        with self._connection() as conn:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start:start + _IDS_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT id, payload FROM online_features WHERE grp = ? AND id IN ({marks})"  # noqa: S608
                found.update(conn.execute(query, (group, *chunk)).fetchall())
        return OnlineRecord.decode_many(ids, [found.get(i) for i in ids])

    def delete_group(self, group: str) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM online_features WHERE grp = ?", (group,))

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
