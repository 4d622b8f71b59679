"""Traffic over time from the data plane's counters: rates, error share and latency percentiles."""

from __future__ import annotations

import pytest

from slipway.serving import ServingHost, TrafficHistory
from slipway.serving._metrics import ServingMetrics


def test_rates_and_percentiles_between_samples() -> None:
    metrics = ServingMetrics()
    history = TrafficHistory(metrics, interval=10)
    history.sample(100.0)  # the start: no point yet
    for _ in range(90):
        metrics.record("ep", "a", 0.003, error=False)  # in the (2.5 ms, 5 ms] bucket
    for _ in range(10):
        metrics.record("ep", "a", 0.2, error=True)  # in the (100 ms, 250 ms] bucket
    metrics.record("other", "x", 0.001, error=False)
    history.sample(110.0)
    (point,) = history.points("ep")["a"]
    assert point.at == 110.0 and point.requests_per_second == pytest.approx(10.0)
    assert point.error_rate == pytest.approx(0.1)
    assert 2.5 < point.p50_ms < 5.0  # type: ignore[operator]
    assert 100.0 < point.p99_ms <= 250.0  # type: ignore[operator]
    history.sample(120.0)  # a quiet interval
    quiet = history.points("ep")["a"][-1]
    assert (quiet.requests_per_second, quiet.error_rate, quiet.p50_ms) == (0.0, None, None)
    assert set(history.points("other")) == {"x"} and history.points("nobody") == {}


def test_the_history_keeps_only_its_window() -> None:
    metrics = ServingMetrics()
    history = TrafficHistory(metrics, keep=3)
    for second in range(10):
        metrics.record("ep", "a", 0.001, error=False)
        history.sample(float(second))
    assert [p.at for p in history.points("ep")["a"]] == [7.0, 8.0, 9.0]


def test_a_sample_at_an_earlier_clock_reading_adds_nothing() -> None:
    metrics = ServingMetrics()
    history = TrafficHistory(metrics)
    history.sample(50.0)
    metrics.record("ep", "a", 0.001, error=False)
    history.sample(50.0)
    assert history.points("ep") == {}


def test_a_serving_host_samples_its_traffic_until_closed() -> None:
    host = ServingHost(None, None, None)  # type: ignore[arg-type]  # no endpoint is started here
    history = host.traffic()
    assert host.traffic() is history and history.sampling  # one history per host, started on the first call
    host.close()
    assert not history.sampling  # its thread ends with the host
