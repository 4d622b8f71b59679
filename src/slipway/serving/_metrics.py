"""Prometheus metrics of the data plane: requests, errors and a latency histogram per variant.

Written by hand in the text exposition format (version 0.0.4) rather than with
``prometheus_client``: three metric families do not justify a dependency, and recording one
request here is a lock and a few additions, cheap enough for the request path.

:class:`TrafficHistory` turns the counters into rates over time (requests per second, error rate,
latency percentiles per variant) by sampling them on a thread of its own, for the web UI's charts.
It sees the traffic of this process only: a server with several workers shows the worker that
answers, and ``slipway serve`` processes keep their own.

:class:`SharedMetrics` is for the worker processes of one ``slipway serve --workers N``: each
publishes its counters to a file in a folder they share, and ``/metrics``, whichever worker
answers it, sums them all.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Seconds; from half a millisecond (a small scikit-learn model) to ten seconds (a large one).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Series:
    requests: int = 0
    errors: int = 0
    total_seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))


class ServingMetrics:
    """Counters per (endpoint, variant); safe to record from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}

    def record(self, endpoint: str, variant: str, seconds: float, *, error: bool) -> None:
        """Count one answered request (``error``: the model failed, a 5xx)."""
        with self._lock:
            series = self._series.get((endpoint, variant))
            if series is None:
                series = self._series[(endpoint, variant)] = _Series()
            series.requests += 1
            series.errors += error
            series.total_seconds += seconds
            series.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1

    def snapshot(self) -> dict[tuple[str, str], Counters]:
        """The counters of every (endpoint, variant) series as they are now."""
        with self._lock:
            items = list(self._series.items())
            return {k: Counters(s.requests, s.errors, s.total_seconds, tuple(s.buckets)) for k, s in items}

    def render(self) -> str:
        """Every series in the Prometheus text format."""
        return render_counters(self.snapshot())

    def close(self) -> None:
        """Release what the metrics hold (nothing here; see :class:`SharedMetrics`)."""


class SharedMetrics(ServingMetrics):
    """The metrics of one of several worker processes serving the same endpoints.

    Every ``interval`` seconds (and at :meth:`close`) the process writes its counters to
    ``folder/<pid>.json``, replacing the file whole; :meth:`render` sums the files of every
    worker, this one's live counters in place of its file. A worker that has exited keeps its
    file, so the totals never go down when uvicorn replaces a worker.
    """

    def __init__(self, folder: Path, *, interval: float = 1.0) -> None:
        super().__init__()
        self._folder = folder
        self._file = folder / f"{os.getpid()}.json"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), name="slipway-metrics-share", daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.publish()

    def publish(self) -> None:
        """Write this process's counters for the other workers to read."""
        series = [[*key, c.requests, c.errors, c.total_seconds, list(c.buckets)] for key, c in self.snapshot().items()]
        partial = self._file.with_suffix(".partial")
        partial.write_text(json.dumps(series), encoding="utf-8")
        partial.replace(self._file)  # atomic: a reader sees the old file or the new one

    def close(self) -> None:
        """Stop publishing, after writing the final counters."""
        self._stop.set()
        self._thread.join()
        self.publish()

    def render(self) -> str:
        totals = self.snapshot()
        for path in self._folder.glob("*.json"):
            if path == self._file:
                continue
            with contextlib.suppress(OSError, ValueError):  # a worker's first file may not exist yet
                for endpoint, variant, requests, errors, seconds, buckets in json.loads(path.read_text("utf-8")):
                    totals[(endpoint, variant)] = _add(totals.get((endpoint, variant)),
                                                      Counters(requests, errors, seconds, tuple(buckets)))
        return render_counters(totals)


def _add(a: Counters | None, b: Counters) -> Counters:
    if a is None:
        return b
    return Counters(a.requests + b.requests, a.errors + b.errors, a.total_seconds + b.total_seconds,
                    tuple(x + y for x, y in zip(a.buckets, b.buckets, strict=True)))


def render_counters(counters: dict[tuple[str, str], Counters]) -> str:
    """The series of ``counters`` (keyed by endpoint and variant) in the Prometheus text format."""
    items = sorted(counters.items())
    lines = [
        "# HELP slipway_requests_total Requests answered by a variant.",
        "# TYPE slipway_requests_total counter",
        *(f"slipway_requests_total{{{_labels(k)}}} {s.requests}" for k, s in items),
        "# HELP slipway_errors_total Requests a variant failed to answer (the model raised).",
        "# TYPE slipway_errors_total counter",
        *(f"slipway_errors_total{{{_labels(k)}}} {s.errors}" for k, s in items),
        "# HELP slipway_request_latency_seconds Time from parsed input to prediction, per variant.",
        "# TYPE slipway_request_latency_seconds histogram",
    ]
    for key, s in items:
        labels, running = _labels(key), 0
        for bound, count in zip((*BUCKETS, float("inf")), s.buckets, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'slipway_request_latency_seconds_bucket{{{labels},le="{le}"}} {running}')
        lines.append(f"slipway_request_latency_seconds_sum{{{labels}}} {s.total_seconds!r}")
        lines.append(f"slipway_request_latency_seconds_count{{{labels}}} {s.requests}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Counters:
    """One series' totals since the process started; ``buckets`` counts requests per latency bucket
    (``BUCKETS`` bounds, then everything slower)."""

    requests: int
    errors: int
    total_seconds: float
    buckets: tuple[int, ...]


@dataclass(frozen=True)
class TrafficPoint:
    """One variant's traffic between two samples: rates per second, error share, latency in ms.

    Latency percentiles are interpolated within the histogram's buckets; None when no request came.
    """

    at: float  # the end of the interval, seconds since the epoch
    requests_per_second: float
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None


class TrafficHistory:
    """Rates over time of every series of a :class:`ServingMetrics`, sampled every ``interval`` seconds.

    Keeps the last ``keep`` intervals (an hour by default). :meth:`start` samples on a daemon
    thread; :meth:`sample` takes one sample now (tests, or a caller with its own clock).
    Thread-safe.
    """

    def __init__(self, metrics: ServingMetrics, *, interval: float = 5.0, keep: int = 720) -> None:
        self._metrics = metrics
        self.interval = interval
        self._lock = threading.Lock()
        self._last: tuple[float, dict[tuple[str, str], Counters]] | None = None
        self._points: dict[tuple[str, str], collections.deque[TrafficPoint]] = {}
        self._keep = keep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TrafficHistory:
        """Sample every ``interval`` seconds on a daemon thread until :meth:`close`; returns self."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slipway-traffic-history", daemon=True)
                self._thread.start()
        return self

    @property
    def sampling(self) -> bool:
        """Whether its thread samples (between :meth:`start` and :meth:`close`)."""
        return self._thread is not None and not self._stop.is_set()

    def _run(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval):
            self.sample()

    def close(self) -> None:
        self._stop.set()

    def sample(self, now: float | None = None) -> None:
        """Record the traffic since the previous sample (the first sample only sets the start)."""
        at = time.time() if now is None else now
        current = self._metrics.snapshot()
        with self._lock:
            last, self._last = self._last, (at, current)
            if last is None or at <= last[0]:
                return
            elapsed = at - last[0]
            for key, counters in current.items():
                before = last[1].get(key, Counters(0, 0, 0.0, (0,) * len(counters.buckets)))
                points = self._points.setdefault(key, collections.deque(maxlen=self._keep))
                points.append(_point(at, elapsed, before, counters))

    def points(self, endpoint: str) -> dict[str, list[TrafficPoint]]:
        """The recorded points of each variant of ``endpoint``, oldest first."""
        with self._lock:
            return {variant: list(p) for (name, variant), p in sorted(self._points.items()) if name == endpoint}


def _point(at: float, elapsed: float, before: Counters, after: Counters) -> TrafficPoint:
    requests = after.requests - before.requests
    errors = after.errors - before.errors
    buckets = [a - b for a, b in zip(after.buckets, before.buckets, strict=True)]
    return TrafficPoint(
        at=at,
        requests_per_second=requests / elapsed,
        error_rate=errors / requests if requests else None,
        p50_ms=_percentile(buckets, 0.5),
        p99_ms=_percentile(buckets, 0.99),
    )


def _percentile(buckets: list[int], fraction: float) -> float | None:
    """The latency (ms) below which ``fraction`` of the requests fell, linear within a bucket.

    A percentile in the last, open-ended bucket is reported as its lower bound.
    """
    total = sum(buckets)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = BUCKETS[index - 1] if index > 0 else 0.0
            if index >= len(BUCKETS):
                return low * 1000
            high = BUCKETS[index]
            return (low + (high - low) * (rank - seen) / count) * 1000
        seen += count
    return BUCKETS[-1] * 1000


def _labels(key: tuple[str, str]) -> str:
    endpoint, variant = (v.replace("\\", "\\\\").replace('"', '\\"') for v in key)
    return f'endpoint="{endpoint}",variant="{variant}"'
