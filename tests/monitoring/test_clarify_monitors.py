"""Bias-drift and feature-attribution-drift monitors over a served abalone endpoint, as the demo serves it.

The endpoint serves the demo's model (a ridge regression of rings on the measurements and sex
one-hot encoded); captured traffic joined with uploaded ground truth is checked against clarify
reports of the training data. Traffic drifted for infants only raises the bias-drift alarm; the
endpoint moved to a changed model raises the attribution-drift alarm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _optional import require
from _webhook import Hook
from starlette.testclient import TestClient

from slipway import Client
from slipway.demo import encode
from slipway.errors import InvalidInput
from slipway.models import save_model
from slipway.monitoring import AlarmState, ExecutionStatus, MonitorKind
from slipway.serving import ServingHost, create_inference_app

pytest.importorskip("sklearn")
require("shap", extra="clarify")

TARGET = "rings"
BIAS = {"label": TARGET, "label_threshold": 10, "facet": "sex_I", "facet_values": [1]}


def _register(client: Client, rows: pd.DataFrame, folder: Path, *, narrow: bool = False) -> str:
    """The demo's model; ``narrow``: a changed one, fitted with every column but height and sex_I held at
    zero, so it weighs only those two (the scaler passes constant columns through, the ridge ignores them)."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = rows.drop(columns=[TARGET])
    fitted = x.assign(**{c: 0.0 for c in x.columns if c not in ("height", "sex_I")}) if narrow else x
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(fitted, rows[TARGET])
    save_model(model, folder, input_example=x.head(3))
    version = client.registry.register_model("abalone-demo", folder).version
    client.registry.approve("abalone-demo", version)
    return f"abalone-demo/{version}"


def test_bias_drift_in_one_facet_and_attribution_drift_of_a_changed_model_raise_their_alarms(
    tmp_path: Path, abalone: pd.DataFrame, hook: Hook
) -> None:
    rows = encode(abalone).sample(frac=1.0, random_state=3).reset_index(drop=True)
    train, live = rows.iloc[:2000], rows.iloc[2000:2600].reset_index(drop=True)
    with Client(home=tmp_path / "home") as client:
        model = _register(client, train, tmp_path / "m1")
        client.backend.serving.create_endpoint("abalone-demo", [{"model": model}], capture={"sampling_percent": 100})
        clarify, monitoring = client.clarify, client.monitoring
        bias_report = clarify.run_bias(BIAS, train, model=model, methods=["DPPL", "AD"])  # steady on 600 rows
        explained = clarify.run_explain(model, train, max_rows=60, baseline_rows=10)
        monitoring.create_monitor("demo-bias", kind=MonitorKind.MODEL_BIAS, report=bias_report.id,
                                  endpoint="abalone-demo", tolerance=0.1)
        monitoring.create_monitor("demo-attribution", kind="ModelExplainability", report=explained.id,
                                  endpoint="abalone-demo")
        monitoring.create_alarm("demo-bias-drift", monitor="demo-bias", metric="violations.bias_drift_check",
                                threshold=0, webhooks=[hook.url])
        monitoring.create_alarm("demo-attribution-drift", monitor="demo-attribution", metric="attribution.ndcg",
                                comparison="<", threshold=0.90, webhooks=[hook.url])

        # one request per row, so every row has its own label
        ids = _send_rows(client, live)
        _label_rows(client, ids, live)
        steady = monitoring.run_monitor("demo-bias")
        assert steady.status is ExecutionStatus.COMPLETED, monitoring.read_violations(steady.id)
        assert steady.item_count == len(live) and "bias.sex_I=1/DPPL" in steady.metrics
        assert monitoring.get_alarm("demo-bias-drift").state is AlarmState.OK

        # infants drifted: their shells weigh twice as much, so the model predicts them old
        drifted = live.copy()
        infants = drifted["sex_I"] == 1
        drifted.loc[infants, "shell weight"] *= 2.5
        drifted.loc[infants, "whole weight"] *= 2.5
        start = pd.Timestamp.now(tz="UTC").to_pydatetime()
        _label_rows(client, _send_rows(client, drifted), drifted)
        moved = monitoring.run_monitor("demo-bias", start=start)
        assert moved.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS, moved.message
        violated = {v["feature_name"] for v in monitoring.read_violations(moved.id)}
        assert "sex_I=1/DPPL" in violated
        assert moved.metrics["bias.sex_I=1/DPPL"] < steady.metrics["bias.sex_I=1/DPPL"] - 0.1
        assert monitoring.get_alarm("demo-bias-drift").state is AlarmState.ALARM
        assert "<svg" in monitoring.read_report(moved.id, "report.html").decode()

        same = monitoring.run_monitor("demo-attribution", end=start)
        assert same.status is ExecutionStatus.COMPLETED, same.message
        assert same.metrics["attribution.ndcg"] > 0.95
        assert monitoring.get_alarm("demo-attribution-drift").state is AlarmState.OK

        changed = _register(client, train, tmp_path / "m2", narrow=True)
        client.backend.serving.update_endpoint("abalone-demo", [{"model": changed}])
        after = monitoring.run_monitor("demo-attribution", end=start)
        assert after.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS, after.message
        assert after.metrics["attribution.ndcg"] < 0.90
        assert monitoring.get_alarm("demo-attribution-drift").state is AlarmState.ALARM
        assert [h["alarm"] for h in hook.received if h["new_state"] == "ALARM"] == [
            "demo-bias-drift", "demo-attribution-drift"]


def _send_rows(client: Client, rows: pd.DataFrame) -> list[str]:
    backend = client.backend
    app = create_inference_app(ServingHost(backend.serving, backend.registry, backend.artifacts), "abalone-demo")
    columns = [c for c in rows.columns if c != TARGET]
    ids = []
    with TestClient(app) as http:
        for values in rows[columns].to_numpy().tolist():
            answer = http.post("/invocations", json={"dataframe_split": {"columns": columns, "data": [values]}})
            assert answer.status_code == 200, answer.text
            ids.append(answer.headers["x-slipway-inference-id"])
    return ids


def _label_rows(client: Client, ids: list[str], rows: pd.DataFrame) -> None:
    client.backend.serving.put_ground_truth("abalone-demo", [
        {"inference_id": i, "label": float(v)} for i, v in zip(ids, rows[TARGET], strict=True)])


def test_bias_drift_of_given_predictions_and_bad_monitors(tmp_path: Path, abalone: pd.DataFrame) -> None:
    rows = encode(abalone)
    with Client(home=tmp_path / "home") as client:
        scored = rows.assign(prediction=np.where(rows["sex_I"] == 1, 8.0, 12.0))
        report = client.clarify.run_bias(BIAS | {"predicted_label": "prediction"}, scored)
        client.monitoring.create_monitor("given", kind="ModelBias", report=report.id, bounds={"DPPL": 0.5})
        same = client.monitoring.run_monitor("given", scored)
        assert same.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS  # |DPPL| = 1 is beyond its bound
        assert same.metrics["bias.sex_I=1/DPPL"] == pytest.approx(1.0)
        with pytest.raises(InvalidInput) as caught:
            client.monitoring.create_monitor("no-report", kind="ModelBias")
        assert caught.value.field == "report"
        explanation_free = client.clarify.run_bias(BIAS, rows)  # pre-training only
        with pytest.raises(InvalidInput, match="post-training"):
            client.monitoring.create_monitor("pre-only", kind="ModelBias", report=explanation_free.id)
        with pytest.raises(InvalidInput, match="feature attributions"):
            client.monitoring.create_monitor("not-shap", kind="ModelExplainability", report=report.id)
