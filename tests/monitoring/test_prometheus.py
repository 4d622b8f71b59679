"""Monitor metrics on ``slipway server``'s ``GET /metrics``: drift per feature, violations, quality, alarms."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
from _server import LiveServer, live_server  # noqa: F401 - the fixture
from prometheus_client.parser import text_string_to_metric_families

from slipway import Client
from slipway.monitoring import AlarmState, ExecutionStatus, MonitorExecution, render_monitor_metrics


def test_the_server_exposes_each_monitors_latest_metrics(
    live_server: LiveServer,  # noqa: F811
    abalone: pd.DataFrame,
    drifted: pd.DataFrame,
    drifted_columns: set[str],
) -> None:
    with Client(live_server.settings) as client:
        monitoring = client.monitoring
        monitoring.create_baseline("prom-abalone", abalone)
        monitoring.create_monitor("prom-dq", baseline="prom-abalone")
        monitoring.create_alarm("prom-drift", monitor="prom-dq", metric="violations.baseline_drift_check", threshold=0)
        monitoring.create_monitor("prom-quality", kind="ModelQuality", problem_type="Regression")
        run = monitoring.run_monitor("prom-dq", drifted)
        assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS
        failed = monitoring.run_monitor("prom-dq")  # a later run that fails: it watches no endpoint
        assert failed.status is ExecutionStatus.FAILED
        predictions = pd.DataFrame({"inference_id": ["a", "b"], "prediction": [1.0, 3.0]})
        labels = pd.DataFrame({"inference_id": ["a", "b"], "label": [2.0, 3.0]})
        monitoring.run_monitor("prom-quality", predictions, labels=labels)
        state_now = monitoring.get_alarm("prom-drift").state
        assert state_now is AlarmState.INSUFFICIENT_DATA

    answer = httpx.get(f"{live_server.url}/metrics", headers=live_server.headers, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(answer.text)
    for feature in drifted_columns:  # the failed run does not blank the gauges of the one before
        assert samples["slipway_monitor_drift_score", ("feature", feature), ("monitor", "prom-dq")] > 0.1
    assert samples["slipway_monitor_violations", ("check", "baseline_drift_check"), ("monitor", "prom-dq")] == \
        run.metrics["violations.baseline_drift_check"] > 0
    assert samples["slipway_monitor_violations", ("check", "total"), ("monitor", "prom-dq")] == run.violation_count
    assert samples["slipway_monitor_rows", ("monitor", "prom-dq")] == len(drifted)
    assert samples["slipway_monitor_quality", ("metric", "mae"), ("monitor", "prom-quality")] == 0.5
    # The failed run has no drift metric: the alarm says so, as get_alarm does.
    alarm = [samples["slipway_alarm_state", ("alarm", "prom-drift"), ("monitor", "prom-dq"), ("state", str(state))]
             for state in AlarmState]
    assert alarm == [state is state_now for state in AlarmState]
    assert "# TYPE slipway_requests_total counter" in answer.text  # the serving metrics are still there
    assert httpx.get(f"{live_server.url}/metrics", timeout=30).status_code == 401  # a scraper needs a token too


def test_label_values_are_escaped_and_odd_numbers_written_as_prometheus_reads_them() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    run = MonitorExecution(id="x", monitor='we"ird\\name', status=ExecutionStatus.COMPLETED, item_count=3,
                           violation_count=0, metrics={"drift.a\nb": float("nan"), "r2": float("-inf")},
                           started_at=at, ended_at=at)
    text = render_monitor_metrics([run], [])
    assert 'slipway_monitor_drift_score{feature="a\\nb",monitor="we\\"ird\\\\name"} NaN' in text
    assert 'slipway_monitor_quality{metric="r2",monitor="we\\"ird\\\\name"} -Inf' in text
    samples = _samples(text)
    assert samples["slipway_monitor_last_run_timestamp_seconds", ("monitor", 'we"ird\\name'),
                   ("status", "Completed")] == at.timestamp()


def _samples(text: str) -> dict[tuple[object, ...], float]:
    """Each sample's value by (name, (label, value)...), read as Prometheus reads the text."""
    return {(s.name, *sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_bias_and_attribution_metrics_get_families_of_their_own() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    run = MonitorExecution(id="x", monitor="fair", status=ExecutionStatus.COMPLETED, item_count=3, violation_count=0,
                           metrics={"bias.sex_I=1/DPPL": 0.25, "attribution.shell weight": 1.5,
                                    "attribution.ndcg": 0.8}, started_at=at, ended_at=at)
    samples = _samples(render_monitor_metrics([run], []))
    assert samples["slipway_monitor_bias", ("facet", "sex_I=1"), ("metric", "DPPL"), ("monitor", "fair")] == 0.25
    assert samples["slipway_monitor_attribution", ("feature", "shell weight"), ("monitor", "fair")] == 1.5
    assert samples["slipway_monitor_attribution_ndcg", ("monitor", "fair")] == 0.8
