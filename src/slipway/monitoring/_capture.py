"""Captured endpoint traffic as tables: the request rows a data-quality monitor checks, and the predictions
a model-quality monitor joins with labels.

Serving writes captured inferences as JSON lines under ``capture/YYYY/MM/DD/HH/`` in the endpoint's
artifact tree (see ``slipway.serving``); one file is read at a time, so a window of any length is
checked in bounded memory. Shadow answers (never returned to a caller) and failed predictions are
left out: the monitor judges what the endpoint served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd

from slipway._kinds import ObjectKind
from slipway.monitoring._quality import INFERENCE_ID, PREDICTION
from slipway.store.artifacts import ArtifactStore, Owner

CAPTURE_PREFIX = "capture"
_HOUR_DEPTH = 4  # capture/YYYY/MM/DD/HH/<file>


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
    span: Span | None = None,
) -> Iterator[pd.DataFrame]:
    """One DataFrame per captured file with records in ``[start, end)``: the request's columns,
    then ``inference_id`` and ``prediction`` (a request of several rows gives several rows).

    ``span``, when given, is widened to the time of each record that gives rows.
    """
    owner = Owner(ObjectKind.ENDPOINT, endpoint_id)
    for info in sorted(artifacts.list(owner, CAPTURE_PREFIX, recursive=True), key=lambda i: i.path):
        if info.is_dir or not _uploaded_after(info.path, start):
            continue
        rows: list[dict[str, Any]] = []
        for line in artifacts.read_bytes(owner, info.path).splitlines():
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


def _uploaded_after(path: str, start: dt.datetime | None) -> bool:
    """Whether a file can hold records from ``start`` on: its folder is the hour it was uploaded,
    and it holds only records from before the upload (files outside the layout are read anyway)."""
    parts = path.split("/")
    try:
        year, month, day, hour_of_day = (int(p) for p in parts[1:1 + _HOUR_DEPTH])
        hour = dt.datetime(year, month, day, hour_of_day, tzinfo=dt.UTC)
    except ValueError:
        return True
    return start is None or hour + dt.timedelta(hours=1) > start
