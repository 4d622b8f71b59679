"""Prometheus metrics of the data plane: requests, errors and a latency histogram per variant.

Kept with ``prometheus_client``. One process keeps its counters in memory; the worker processes of
``slipway server --workers N`` and ``slipway serve --workers N`` use its multiprocess mode: the
parent makes a fresh folder for the run (:func:`multiprocess_folder`), names it in
``PROMETHEUS_MULTIPROC_DIR`` before the workers start (prometheus_client reads it when a process
first imports it), each worker writes its counters to its own files there, and ``/metrics``,
whichever worker answers it, totals the files of every worker (:class:`ServingMetrics` with
``folder``). A worker that exits keeps its files, so the totals never go down when uvicorn
replaces one; the parent removes the folder when the run ends.

:class:`TrafficHistory` turns the counters into rates over time (requests per second, error rate,
latency percentiles per variant) by sampling them on a thread of its own, for the web UI's charts;
with several workers it samples the totals too.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# Seconds; from half a millisecond (a small scikit-learn model) to ten seconds (a large one).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LABELS = ("endpoint", "variant")
_REQUESTS = ("slipway_requests", "Requests answered by a variant.")
_ERRORS = ("slipway_errors", "Requests a variant failed to answer (the model raised).")
_LATENCY = ("slipway_request_latency_seconds", "Time from parsed input to prediction, per variant.")


class ServingMetrics:
    """Counters per (endpoint, variant); safe to record from any thread.

    Args:
        folder: the run's multiprocess folder (see the module's docstring): this process writes
            its counters there and :meth:`render` totals every worker's. None keeps them in memory,
            for this process alone.

    Raises:
        RuntimeError: with ``folder``, if this process imported prometheus_client before
            ``PROMETHEUS_MULTIPROC_DIR`` named that folder (its counters would stay in memory).
    """

    def __init__(self, folder: Path | None = None) -> None:
        if folder is not None and (os.environ.get(MULTIPROCESS_ENV) != str(folder)
                                   or not getattr(values.ValueClass, "_multiprocess", False)):
            raise RuntimeError(f"{MULTIPROCESS_ENV} must name {folder} before the process imports prometheus_client")
        self._folder = folder
        self._registry = CollectorRegistry()
        self._requests = Counter(*_REQUESTS, _LABELS, registry=self._registry)
        self._errors = Counter(*_ERRORS, _LABELS, registry=self._registry)
        self._latency = Histogram(*_LATENCY, _LABELS, buckets=BUCKETS, registry=self._registry)
        self._series: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()
        if folder is not None:
            self._registry = CollectorRegistry()  # what a scrape reads: every worker's files
            MultiProcessCollector(self._registry, path=str(folder))

    def record(self, endpoint: str, variant: str, seconds: float, *, error: bool) -> None:
        """Count one answered request (``error``: the model failed, a 5xx)."""
        series = self._series.get((endpoint, variant))
        if series is None:
            with self._lock:
                series = self._series[(endpoint, variant)] = (
                    self._requests.labels(endpoint, variant),
                    self._errors.labels(endpoint, variant),
                    self._latency.labels(endpoint, variant),
                )
        requests, errors, latency = series
        requests.inc()
        if error:
            errors.inc()
        latency.observe(seconds)

    def snapshot(self) -> dict[tuple[str, str], Counters]:
        """The counters of every (endpoint, variant) series as they are now (every worker's, in a run of several)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for family in self._registry.collect():
            for sample in family.samples:
                key = (sample.labels.get("endpoint", ""), sample.labels.get("variant", ""))
                into = found.setdefault(key, {"requests": 0, "errors": 0, "sum": 0.0, "le": {}})
                if sample.name == "slipway_requests_total":
                    into["requests"] = int(sample.value)
                elif sample.name == "slipway_errors_total":
                    into["errors"] = int(sample.value)
                elif sample.name == "slipway_request_latency_seconds_sum":
                    into["sum"] = float(sample.value)
                elif sample.name == "slipway_request_latency_seconds_bucket":
                    into["le"][float(sample.labels["le"])] = int(sample.value)
        return {key: Counters(v["requests"], v["errors"], v["sum"], _per_bucket(v["le"])) for key, v in found.items()}

    def render(self) -> str:
        """Every series in the Prometheus text format."""
        return generate_latest(self._registry).decode()

    def close(self) -> None:
        """Say this worker has exited (its counters stay in the totals); nothing for a single process."""
        if self._folder is not None:
            mark_process_dead(os.getpid(), str(self._folder))


def _per_bucket(cumulative: dict[float, int]) -> tuple[int, ...]:
    """Requests per latency bucket (``BUCKETS`` bounds, then everything slower) from cumulative counts."""
    running = [cumulative.get(bound, 0) for bound in (*BUCKETS, float("inf"))]
    return tuple(count - before for count, before in zip(running, [0, *running[:-1]], strict=True))


Series = Mapping[tuple[str, str], "Counters"]  # a snapshot: the counters of each (endpoint, variant)


def add_up(snapshots: Iterable[Series]) -> dict[tuple[str, str], Counters]:
    """The totals of several processes' snapshots, series by series."""
    totals: dict[tuple[str, str], Counters] = {}
    for snapshot in snapshots:
        for key, counters in snapshot.items():
            before = totals.get(key)
            totals[key] = counters if before is None else Counters(
                before.requests + counters.requests,
                before.errors + counters.errors,
                before.total_seconds + counters.total_seconds,
                tuple(a + b for a, b in zip(before.buckets, counters.buckets, strict=True)),
            )
    return totals


def render_counters(series: Series) -> str:
    """``series`` in the Prometheus text format, as :meth:`ServingMetrics.render` writes its own."""
    registry = CollectorRegistry()
    registry.register(_Fixed(series))
    return generate_latest(registry).decode()


class _Fixed(Collector):
    """Counters totalled elsewhere, exposed as the families :class:`ServingMetrics` keeps."""

    def __init__(self, series: Series) -> None:
        self._series = series

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(*_REQUESTS, labels=_LABELS)
        errors = CounterMetricFamily(*_ERRORS, labels=_LABELS)
        latency = HistogramMetricFamily(*_LATENCY, labels=_LABELS)
        bounds = [*(floatToGoString(b) for b in BUCKETS), "+Inf"]
        for (endpoint, variant), counters in sorted(self._series.items()):
            labels = [endpoint, variant]
            requests.add_metric(labels, counters.requests)
            errors.add_metric(labels, counters.errors)
            cumulative = itertools.accumulate(counters.buckets)
            latency.add_metric(labels, list(zip(bounds, cumulative, strict=True)), counters.total_seconds)
        yield from (requests, errors, latency)


@contextlib.contextmanager
def multiprocess_folder() -> Iterator[Path]:
    """A fresh folder for one run of several worker processes, named in ``PROMETHEUS_MULTIPROC_DIR``
    for the workers to inherit, and removed (with the variable) when the run ends."""
    folder = Path(tempfile.mkdtemp(prefix="slipway-metrics-"))
    before = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = before
        shutil.rmtree(folder, ignore_errors=True)


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

