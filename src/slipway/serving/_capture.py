"""Data capture: sampled requests and answers, written off the request path into the artifact store.

The request path only decides whether to sample and puts the raw objects on a queue; one
background thread turns them into JSON lines in a local file and uploads that file to the artifact
store under ``Owner(ObjectKind.ENDPOINT, ID)`` every ``max_records_per_file`` records, or
``flush_interval_seconds`` after the request of its first record, whichever comes first: a quiet
endpoint's traffic reaches the store within the interval. The file goes to
``capture/YYYY/MM/DD/HH/<uploaded ms>-<pid>-<n>-<records>-<first record ms>.jsonl`` (the folder is
the hour of the upload; :func:`capture_file` reads a path back). :meth:`close` drains the queue and
uploads the partial file, so a server that shuts down on SIGTERM loses nothing it sampled.
Records are ``{"inference_id", "time", "endpoint", "variant", "shadow", "request", "response"}``
with the request in ``dataframe_split`` form; a failed prediction's response is ``{"error": message}``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import queue
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slipway._kinds import ObjectKind
from slipway._time import datetime_to_ms, ms_to_datetime
from slipway.serving._payload import Payload, input_as_split, to_jsonable
from slipway.serving._records import CaptureFile
from slipway.store.artifacts import ArtifactInfo, ArtifactStore, BlobStorage, Owner

CAPTURE_PREFIX = "capture"
_HOUR_DEPTH = 4  # capture/YYYY/MM/DD/HH/<file>
_log = logging.getLogger(__name__)


class CaptureStore(Protocol):
    """Where files of captured records go: the artifact store (under the endpoint's owner), or
    :class:`StorageCapture` for a server that has no metadata database."""

    def put_file(self, owner: Owner, path: str, local_path: Path) -> object: ...


class StorageCapture:
    """Capture files written straight to a folder or an object store, ``URL/ENDPOINT/capture/...``:
    what ``slipway serve --bundle`` writes, with no database to record them in.

    Example:
        >>> StorageCapture(storage_from_url("s3://captures/prod"), "abalone")
    """

    def __init__(self, storage: BlobStorage, endpoint: str) -> None:
        self._storage = storage
        self._endpoint = endpoint

    def put_file(self, owner: Owner, path: str, local_path: Path) -> None:
        self._storage.put_file(f"{self._endpoint}/{path}", local_path)


@dataclass(frozen=True)
class Captured:
    """One sampled inference, as the request path hands it over (not yet serialised)."""

    inference_id: str
    at: dt.datetime
    endpoint: str
    variant: str
    shadow: bool
    request: Payload
    response: Any
    error: str | None = None


class CaptureWriter:
    """Sample and persist inferences of one endpoint.

    ``offer`` and ``sampled`` are safe to call from any thread; ``close`` once, at shutdown.
    """

    _STOP = object()

    def __init__(
        self,
        artifacts: CaptureStore,
        endpoint_id: str,
        *,
        sampling_percent: float,
        max_records_per_file: int,
        flush_interval_seconds: float = 60.0,
    ) -> None:
        self._artifacts = artifacts
        self._owner = Owner(ObjectKind.ENDPOINT, endpoint_id)
        self.endpoint_id = endpoint_id
        self.sampling_percent = sampling_percent
        self.max_records = max_records_per_file
        self.flush_interval = flush_interval_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tmp = Path(tempfile.mkdtemp(prefix="slipway-capture-"))
        self._count = 0
        self._files = 0
        self._current: Any = None
        self._first: dt.datetime | None = None  # the request time of the current file's first record
        self._thread = threading.Thread(target=self._run, name=f"slipway-capture-{endpoint_id}", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        """Whether this request is to be captured (decided once, for its shadow copies too)."""
        percent = self.sampling_percent
        return percent >= 100 or (percent > 0 and random.random() * 100 < percent)

    def offer(self, record: Captured) -> None:
        """Queue a sampled record; returns at once."""
        self._queue.put(record)

    def close(self) -> None:
        """Write and upload everything queued; further records are dropped."""
        self._queue.put(self._STOP)
        self._thread.join()
        with contextlib.suppress(OSError):  # a file whose upload failed stays, for someone to recover
            self._tmp.rmdir()

    def _due(self) -> float | None:
        """Seconds until the current file must be uploaded (None without one)."""
        if self._first is None:
            return None
        return max(0.0, self._first.timestamp() + self.flush_interval - time.time())

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._due())
            except queue.Empty:  # the interval ran out on a quiet endpoint
                self._upload()
                continue
            if item is self._STOP:
                break
            self._write(item)
            if self._count >= self.max_records or self._due() == 0.0:
                self._upload()
        self._upload()

    def _write(self, record: Captured) -> None:
        if self._current is None:
            self._current = (self._tmp / f"{self._files}.jsonl").open("w", encoding="utf-8")
            self._first = record.at
        line = {
            "inference_id": record.inference_id,
            "time": record.at.isoformat(),
            "endpoint": record.endpoint,
            "variant": record.variant,
            "shadow": record.shadow,
            "request": input_as_split(record.request),
            "response": {"error": record.error} if record.error is not None else to_jsonable(record.response),
        }
        self._current.write(json.dumps(line, default=str) + "\n")
        self._count += 1

    def _upload(self) -> None:
        if self._current is None:
            return
        self._current.close()
        local = Path(self._current.name)
        now = dt.datetime.now(dt.UTC)
        first = datetime_to_ms(self._first, "at") if self._first is not None else datetime_to_ms(now, "now")
        name = f"{datetime_to_ms(now, 'now')}-{os.getpid()}-{self._files}-{self._count}-{first}.jsonl"
        path = f"{CAPTURE_PREFIX}/{now:%Y/%m/%d/%H}/{name}"
        self._current, self._count, self._first = None, 0, None
        self._files += 1
        try:
            self._artifacts.put_file(self._owner, path, local)
        except Exception:
            _log.exception("could not upload captured records; they stay in %s", local)
            return
        local.unlink()


def capture_file(info: ArtifactInfo) -> CaptureFile | None:
    """What a stored capture file's path says of it; None for anything outside the layout.

    Files written before names carried their counts give ``records`` and ``first_at`` as None, and
    the start of their hour as ``uploaded_at`` unless the name starts with the upload time.
    """
    parts = info.path.split("/")
    if info.is_dir or len(parts) != _HOUR_DEPTH + 2 or parts[0] != CAPTURE_PREFIX:
        return None
    try:
        year, month, day, hour = (int(p) for p in parts[1:1 + _HOUR_DEPTH])
        folder = dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    except ValueError:
        return None
    fields = parts[-1].removesuffix(".jsonl").split("-")
    numbers = [int(f) if f.isdigit() else None for f in fields]
    uploaded = ms_to_datetime(numbers[0]) if numbers[0] is not None else folder
    records = numbers[3] if len(numbers) == 5 else None
    first = ms_to_datetime(numbers[4]) if len(numbers) == 5 and numbers[4] is not None else None
    return CaptureFile(path=info.path, size=info.size or 0, records=records, first_at=first, uploaded_at=uploaded)


def capture_files(
    artifacts: ArtifactStore, endpoint_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[CaptureFile]:
    """The endpoint's capture files that may hold records of ``[start, end)``, oldest upload first.

    A file holds records from its first request to its upload, so it is listed when it was
    uploaded at or after ``start`` and its first record is before ``end``.
    """
    found = []
    for info in artifacts.list(Owner(ObjectKind.ENDPOINT, endpoint_id), CAPTURE_PREFIX, recursive=True):
        file = capture_file(info)
        if file is None or (start is not None and file.uploaded_at < start):
            continue
        if end is not None and file.first_at is not None and file.first_at >= end:
            continue
        found.append(file)
    return sorted(found, key=lambda f: (f.uploaded_at, f.path))
