"""Captured endpoint traffic as tables: the request rows a data-quality monitor checks, and the predictions
a model-quality monitor joins with labels.

Serving writes captured inferences as JSON lines under ``capture/YYYY/MM/DD/HH/`` in the endpoint's
artifact tree (see ``slipway.serving``); one file is read at a time, so a window of any length is
checked in bounded memory. Shadow answers (never returned to a caller) and failed predictions are
left out: the monitor judges what the endpoint served.

A run given no window reads the traffic since its monitor's previous run without one, as a
scheduled monitor of the cloud stack does: the files uploaded since, by :class:`Unread`. Files are
followed rather than request times because a file reaches the store up to its flush interval after
its first request: a request made just before the previous run, and stored just after it, is read
by this run, once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd

from slipway._kinds import ObjectKind
from slipway._time import datetime_to_ms
from slipway.monitoring._quality import INFERENCE_ID, PREDICTION
from slipway.serving import CaptureFile, capture_files
from slipway.store.artifacts import ArtifactStore, Owner

CURSOR_FILE = "capture-cursor.json"  # a run without a window: the capture files recently read, for the next one
# Longer than any upload of a capture file takes: a file uploaded this long before a run began was
# visible to it. The cursor remembers the files read within it, so none is read twice.
UPLOAD_GRACE = dt.timedelta(minutes=10)


@dataclasses.dataclass
class Unread:
    """The capture files a run without a window reads: uploaded after ``after`` and not in ``seen``.

    ``after`` is the previous such run's start less :data:`UPLOAD_GRACE`; ``seen`` maps the files
    it (and the runs before it) read within that grace to their upload time, in milliseconds.
    """

    after: dt.datetime | None = None
    seen: dict[str, int] = dataclasses.field(default_factory=dict)
    read: dict[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def since(cls, started: dt.datetime, document: bytes) -> Unread:
        """After a previous run that began at ``started`` and left ``document`` (its cursor)."""
        seen = json.loads(document).get("seen", {})
        return cls(after=started - UPLOAD_GRACE, seen={str(k): int(v) for k, v in seen.items()})

    def wants(self, file: CaptureFile) -> bool:
        return (self.after is None or file.uploaded_at > self.after) and file.path not in self.seen

    def document(self, started: dt.datetime) -> bytes:
        """The cursor this run leaves: the files read within the grace before it began."""
        floor = datetime_to_ms(started - UPLOAD_GRACE, "started")
        recent = {path: at for path, at in {**self.seen, **self.read}.items() if at > floor}
        return json.dumps({"read": len(self.read), "seen": dict(sorted(recent.items()))}, indent=1).encode()


@dataclasses.dataclass
class Span:
    """The times of the first and last captured records read, which an execution records as its window."""

    first: dt.datetime | None = None
    last: dt.datetime | None = None

    def add(self, at: dt.datetime) -> None:
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)


def captured_frames(
    artifacts: ArtifactStore, endpoint_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None,
    span: Span | None = None, unread: Unread | None = None,
) -> Iterator[pd.DataFrame]:
    """One DataFrame per captured file with records in ``[start, end)``: the request's columns,
    then ``inference_id`` and ``prediction`` (a request of several rows gives several rows).

    ``span``, when given, is widened to the time of each record that gives rows; ``unread``, when
    given, picks the files (and notes those read).
    """
    owner = Owner(ObjectKind.ENDPOINT, endpoint_id)
    for file in capture_files(artifacts, endpoint_id, start, end):
        if unread is not None:
            if not unread.wants(file):
                continue
            unread.read[file.path] = datetime_to_ms(file.uploaded_at, "uploaded_at")
        rows: list[dict[str, Any]] = []
        for line in artifacts.read_bytes(owner, file.path).splitlines():
            record = json.loads(line)
            at = dt.datetime.fromisoformat(record["time"])
            if record.get("shadow") or (start is not None and at < start) or (end is not None and at >= end):
                continue
            found = _rows(record)
            if found and span is not None:
                span.add(at)
            rows.extend(found)
        if rows:
            yield pd.DataFrame(rows)


def _rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's rows with their predictions; none for a failed prediction or an unnamed input."""
    request, response = record["request"], record["response"]
    columns = request.get("columns")
    if isinstance(response, dict) or not columns:
        return []
    predictions = response if isinstance(response, list) else [response]
    return [
        {**dict(zip(columns, values, strict=True)), INFERENCE_ID: record["inference_id"], PREDICTION: prediction}
        for values, prediction in zip(request["data"], predictions, strict=False)
    ]
