"""The monitor over a served endpoint: captured traffic drifts, the report names the features, the alarm
fires its webhook, and uploaded ground truth gives the model-quality metrics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving_models import register, write_line
from _webhook import Hook
from starlette.testclient import TestClient

from slipway import Client
from slipway.errors import InvalidInput, NotFound
from slipway.monitoring import AlarmState, ExecutionStatus
from slipway.serving import ServingHost, create_inference_app


def _traffic(rows: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(1.0 + shift, 1.0, rows), "b": rng.normal(0.5, 0.5, rows)})


def test_drifted_traffic_raises_the_alarm_and_labels_give_model_quality(tmp_path: Path, hook: Hook) -> None:
    with Client(home=tmp_path / "home") as client:
        backend = client.backend
        model = register(backend.registry, write_line(tmp_path / "line"))
        backend.serving.create_endpoint("line", [{"model": model}], capture={"sampling_percent": 100})
        monitoring = client.monitoring
        made = monitoring.create_baseline("line-train", _traffic(2000, 0), model=model)
        version = backend.registry.get_version("line", 1)
        downstream = backend.lineage.downstream("model_version", version.id)
        assert ("monitoring_baseline", made.id) in {node.key for node in downstream.nodes}
        monitoring.create_monitor("line-dq", baseline="line-train", endpoint="line")
        monitoring.create_alarm("line-drift", monitor="line-dq", metric="drift.a", threshold=0.1,
                                webhooks=[hook.url])

        sent = _traffic(300, 1, shift=1.0)  # feature a drifts by one standard deviation, b does not
        ids = []
        before = dt.datetime.now(dt.UTC)
        app = create_inference_app(ServingHost(backend.serving, backend.registry, backend.artifacts), "line")
        with TestClient(app) as http:  # leaving it shuts the app down, which uploads the captured files
            for row in sent.to_numpy().tolist():
                answer = http.post("/invocations", json={"dataframe_split": {"columns": ["a", "b"], "data": [row]}})
                assert answer.status_code == 200, answer.text
                ids.append(answer.headers["x-slipway-inference-id"])

        after = dt.datetime.now(dt.UTC)
        run = monitoring.run_monitor("line-dq")
        assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and run.item_count == 300
        # No window asked for: the execution keeps the span of the captured records it read.
        assert run.window_start is not None and run.window_end is not None
        assert before - dt.timedelta(milliseconds=1) <= run.window_start < run.window_end <= after
        assert monitoring.list_executions("line-dq")[0].window_start == run.window_start
        violations = monitoring.read_violations(run.id)
        assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("a", "baseline_drift_check")]
        assert monitoring.get_alarm("line-drift").state is AlarmState.ALARM
        assert [h["new_state"] for h in hook.received] == ["ALARM"]
        assert "<svg" in monitoring.read_report(run.id, "report.html").decode()

        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        quiet = monitoring.run_monitor("line-dq", start=later)
        assert quiet.status is ExecutionStatus.FAILED and "no traffic" in (quiet.message or "")
        assert quiet.window_start is not None and quiet.window_end is None
        assert abs(quiet.window_start - later) < dt.timedelta(milliseconds=1)  # stored in milliseconds
        assert monitoring.get_alarm("line-drift").state is AlarmState.INSUFFICIENT_DATA  # a run without the metric
        naive_start = (after - dt.timedelta(hours=1)).replace(tzinfo=None)
        with pytest.raises(InvalidInput, match="time zone"):  # UTC or local? Refused, not guessed
            monitoring.run_monitor("line-dq", start=naive_start, end=after)
        windowed = monitoring.run_monitor("line-dq", start=naive_start.replace(tzinfo=dt.UTC), end=after)
        assert windowed.item_count == 300
        assert windowed.window_end is not None and abs(windowed.window_end - after) < dt.timedelta(milliseconds=1)

        truth = 2 * sent["a"] - sent["b"] + 0.5  # the model is exact: labels for the first 200 requests
        backend.serving.put_ground_truth("line", [
            {"inference_id": inference_id, "label": float(truth.iloc[i])} for i, inference_id in enumerate(ids[:200])
        ])
        monitoring.create_monitor("line-quality", kind="ModelQuality", problem_type="Regression", endpoint="line",
                                  thresholds={"mae": 0.01})
        quality = monitoring.run_monitor("line-quality")
        assert quality.status is ExecutionStatus.COMPLETED, quality.message
        report = json.loads(monitoring.read_report(quality.id, "model_quality.json"))
        assert report["matched"] == 200 and report["unmatched"] == 100
        assert quality.metrics["mae"] == pytest.approx(0.0, abs=1e-6)

        monitoring.create_monitor("plain", baseline="line-train")
        unwatched = monitoring.run_monitor("plain")
        assert unwatched.status is ExecutionStatus.FAILED and "watches no endpoint" in (unwatched.message or "")
        with pytest.raises(NotFound):
            monitoring.create_monitor("elsewhere", baseline="line-train", endpoint="nope")
