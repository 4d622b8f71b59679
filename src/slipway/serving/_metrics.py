"""Prometheus metrics of the data plane: requests, errors and a latency histogram per variant.

Written by hand in the text exposition format (version 0.0.4) rather than with
``prometheus_client``: three metric families do not justify a dependency, and recording one
request here is a lock and a few additions, cheap enough for the request path.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

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

    def render(self) -> str:
        """Every series in the Prometheus text format."""
        with self._lock:
            items = sorted((key, _copy(s)) for key, s in self._series.items())
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


def _copy(series: _Series) -> _Series:
    return _Series(series.requests, series.errors, series.total_seconds, list(series.buckets))


def _labels(key: tuple[str, str]) -> str:
    endpoint, variant = (v.replace("\\", "\\\\").replace('"', '\\"') for v in key)
    return f'endpoint="{endpoint}",variant="{variant}"'
