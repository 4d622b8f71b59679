"""Data capture: sampled requests and answers, written off the request path into the artifact store.

The request path only decides whether to sample and puts the raw objects on a queue; one
background thread turns them into JSON lines in a local file and, every ``max_records_per_file``
records (or when closed), uploads that file to the artifact store under
``Owner(ObjectKind.ENDPOINT, ID)`` at ``capture/YYYY/MM/DD/HH/<ms>-<pid>-<n>.jsonl``. :meth:`close` drains
the queue and uploads the partial file, so a server that shuts down on SIGTERM loses nothing it
sampled. Records are ``{"inference_id", "time", "endpoint", "variant", "shadow", "request",
"response"}`` with the request in ``dataframe_split`` form; a failed prediction's response is
``{"error": message}``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway._kinds import ObjectKind
from slipway._time import datetime_to_ms
from slipway.models import ModelInput
from slipway.serving._payload import input_as_split, to_jsonable
from slipway.store.artifacts import ArtifactStore, Owner

CAPTURE_PREFIX = "capture"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Captured:
    """One sampled inference, as the request path hands it over (not yet serialised)."""

    inference_id: str
    at: dt.datetime
    endpoint: str
    variant: str
    shadow: bool
    request: ModelInput
    response: Any
    error: str | None = None


class CaptureWriter:
    """Sample and persist inferences of one endpoint.

    ``offer`` and ``sampled`` are safe to call from any thread; ``close`` once, at shutdown.
    """

    _STOP = object()

    def __init__(
        self, artifacts: ArtifactStore, endpoint_id: str, *, sampling_percent: float, max_records_per_file: int
    ) -> None:
        self._artifacts = artifacts
        self._owner = Owner(ObjectKind.ENDPOINT, endpoint_id)
        self.endpoint_id = endpoint_id
        self.sampling_percent = sampling_percent
        self.max_records = max_records_per_file
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tmp = Path(tempfile.mkdtemp(prefix="slipway-capture-"))
        self._count = 0
        self._files = 0
        self._current: Any = None
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

    def _run(self) -> None:
        while (item := self._queue.get()) is not self._STOP:
            self._write(item)
            if self._count >= self.max_records:
                self._upload()
        self._upload()

    def _write(self, record: Captured) -> None:
        if self._current is None:
            self._current = (self._tmp / f"{self._files}.jsonl").open("w", encoding="utf-8")
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
        path = f"{CAPTURE_PREFIX}/{now:%Y/%m/%d/%H}/{datetime_to_ms(now, 'now')}-{os.getpid()}-{self._files}.jsonl"
        self._current, self._count = None, 0
        self._files += 1
        try:
            self._artifacts.put_file(self._owner, path, local)
        except Exception:
            _log.exception("could not upload captured records; they stay in %s", local)
            return
        local.unlink()
