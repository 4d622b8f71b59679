"""The offline store: every ingested row, append-only Parquet in the artifact store, by event date.

Each ingestion writes one file per event date it touches, at
``offline/event_date=YYYY-MM-DD/<ingestion id>.parquet`` of ``Owner(ObjectKind.FEATURE_GROUP, id)``.
Files are never rewritten, so history is exactly what was ingested, late rows included. Two
hidden columns order rows that share an id and an event time: ``_ingest`` (when the ingestion
happened, in milliseconds, strictly increasing within a process) and ``_row`` (the row's position
in it); the later write wins, as online. Two processes ingesting the same id and event time in
the same millisecond are ordered by row position only.

Queries run in DuckDB over local copies of the files. Blobs are content-addressed, so a copy
named by its sha256 never goes stale: the cache only grows, and a file is fetched once.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ulid import ULID

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._time import now_ms
from slipway.features._types import INGEST_COLUMN, ROW_COLUMN
from slipway.store.artifacts import ArtifactStore, Owner, write_atomically

PREFIX = "offline"
_DATE_KEY = "event_date="


class OfflineStore:
    """Append and locate the offline files of feature groups.

    Args:
        artifacts: where the files are stored.
        cache_dir: where local copies for DuckDB are kept (by content hash).
    """

    def __init__(self, artifacts: ArtifactStore, cache_dir: Path) -> None:
        self._artifacts = artifacts
        self._cache = Path(cache_dir)
        self._clock = threading.Lock()
        self._last_ingest = 0

    def stamp(self, table: pa.Table) -> pa.Table:
        """``table`` with the hidden columns that order equal event times (see the module's doc)."""
        with self._clock:
            self._last_ingest = max(now_ms(), self._last_ingest + 1)
            ingest = self._last_ingest
        table = table.append_column(INGEST_COLUMN, pa.array(np.full(table.num_rows, ingest, dtype=np.int64)))
        return table.append_column(ROW_COLUMN, pa.array(np.arange(table.num_rows, dtype=np.int64)))

    def append(self, group_id: str, table: pa.Table, event_time: str) -> int:
        """Store rows stamped by :meth:`stamp`, one file per event date; return the file count.

        The files of one ingestion appear together or not at all (one transaction).
        """
        name = f"{new_id()}.parquet"
        dates = pc.cast(table.column(event_time), pa.date32())
        days = pc.unique(dates).to_pylist()
        with tempfile.TemporaryDirectory(prefix="slipway-offline-") as tmp:
            for day in days:
                folder = Path(tmp) / f"{_DATE_KEY}{day}"
                folder.mkdir()
                pq.write_table(table.filter(pc.equal(dates, pa.scalar(day, pa.date32()))), folder / name,
                               compression="zstd")
            self._artifacts.put_dir(Owner(ObjectKind.FEATURE_GROUP, group_id), PREFIX, Path(tmp))
        return len(days)

    def files(self, group_id: str, *, since: dt.date | None = None, until: dt.date | None = None) -> list[str]:
        """Local paths of the group's files whose event date is within [since, until]."""
        owner = Owner(ObjectKind.FEATURE_GROUP, group_id)
        paths = []
        for entry in self._artifacts.list(owner, PREFIX, recursive=True):
            day = dt.date.fromisoformat(entry.path.split("/")[1].removeprefix(_DATE_KEY))
            if (since is None or day >= since) and (until is None or day <= until):
                paths.append(self._local_copy(owner, entry.path, entry.sha256 or ""))
        return paths

    def extent(self, group_id: str) -> tuple[dt.date | None, dt.datetime | None, int]:
        """The newest event date, the time of the latest ingestion and the number of files.

        Read from the files' paths alone: the folder names the event date, and the file name is the
        ingestion's time-ordered id (a ULID), so nothing is downloaded.
        """
        newest_day: dt.date | None = None
        latest_name = ""
        count = 0
        for entry in self._artifacts.list(Owner(ObjectKind.FEATURE_GROUP, group_id), PREFIX, recursive=True):
            folder, name = entry.path.split("/")[1:3]
            day = dt.date.fromisoformat(folder.removeprefix(_DATE_KEY))
            newest_day = day if newest_day is None else max(newest_day, day)
            latest_name = max(latest_name, name)
            count += 1
        ingested = ULID.from_str(latest_name.removesuffix(".parquet").upper()).datetime if latest_name else None
        return newest_day, ingested, count

    def _local_copy(self, owner: Owner, path: str, sha256: str) -> str:
        local = self._cache / sha256[:2] / f"{sha256}.parquet"
        if not local.exists():
            with self._artifacts.open(owner, path) as src:
                write_atomically(local, src, durable=False)
        return os.fspath(local)


def parquet_list(paths: Sequence[str]) -> str:
    """A DuckDB list literal of file paths (quotes doubled)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
