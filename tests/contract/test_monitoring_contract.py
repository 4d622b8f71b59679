"""Monitoring, embedded and remote: the same calls, records and errors (data stays with the caller)."""

from __future__ import annotations

import uuid
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _webhook import Hook

from slipway import Client
from slipway.errors import AlreadyExists, InvalidInput, NotFound
from slipway.monitoring import AlarmState, ExecutionStatus


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def abalone() -> pd.DataFrame:
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        return pd.read_csv(handle)


def test_data_quality_monitor_with_an_alarm(client: Client, abalone: pd.DataFrame, tmp_path: Path) -> None:
    service = client.monitoring
    baseline, monitor, alarm = _unique("abalone"), _unique("dq"), _unique("drift")
    made = service.create_baseline(baseline, abalone)
    assert made.version == 1 and made.item_count == len(abalone)
    assert service.get_baseline(baseline).constraints == service.get_baseline(baseline, 1).constraints
    assert baseline in {b.name for b in service.list_baselines()}
    service.create_monitor(monitor, baseline=baseline)
    assert service.get_monitor(monitor).baseline == f"{baseline}:1"
    hook = Hook()
    try:
        service.create_alarm(alarm, monitor=monitor, metric="drift.length", threshold=0.1, webhooks=[hook.url])
        drifted = abalone.assign(length=abalone["length"] * 1.3)
        path = tmp_path / "today.csv"
        drifted.to_csv(path, index=False)
        run = service.run_monitor(monitor, str(path))
    finally:
        hook.close()
    assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and run.item_count == len(abalone)
    assert [v["feature_name"] for v in service.read_violations(run.id)] == ["length"]
    assert service.get_alarm(alarm).state is AlarmState.ALARM
    assert [h["new_state"] for h in hook.received] == ["ALARM"]
    assert [a.name for a in service.list_alarms(monitor)] == [alarm]
    assert set(service.report_files(run.id)) >= {"constraint_violations.json", "report.html", "drift.json"}
    assert b"<svg" in service.read_report(run.id, "report.html")
    assert (service.download_report(run.id, tmp_path / "report") / "drift.json").is_file()
    assert [e.id for e in service.list_executions(monitor)] == [run.id]
    assert service.get_execution(run.id).metrics["drift.length"] > 0.1


def test_model_quality_monitor(client: Client) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    ids = [f"i{i}" for i in range(200)]
    predicted = np.where(rng.uniform(size=200) < 0.8, truth, 1 - truth)
    predictions = pd.DataFrame({"inference_id": ids, "prediction": predicted, "probability": rng.uniform(size=200)})
    labels = pd.DataFrame({"inference_id": ids, "label": truth})
    name = _unique("mq")
    client.monitoring.create_monitor(name, kind="ModelQuality", problem_type="BinaryClassification",
                                     thresholds={"accuracy": 0.95})
    run = client.monitoring.run_monitor(name, predictions, labels=labels)
    assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and run.item_count == 200
    assert 0.7 < run.metrics["accuracy"] < 0.9 and "auc" in run.metrics


def test_errors_are_the_same(client: Client, abalone: pd.DataFrame) -> None:
    service = client.monitoring
    with pytest.raises(NotFound):
        service.get_monitor(_unique("nope"))
    with pytest.raises(NotFound):
        service.get_baseline(_unique("nope"))
    with pytest.raises(InvalidInput) as caught:
        service.create_monitor(_unique("dq"))
    assert caught.value.field == "baseline"
    baseline, monitor = _unique("b"), _unique("dq")
    service.create_baseline(baseline, abalone.head(100))
    service.create_monitor(monitor, baseline=baseline)
    with pytest.raises(AlreadyExists):
        service.create_monitor(monitor, baseline=baseline)
    with pytest.raises(InvalidInput) as caught:
        service.create_alarm(_unique("a"), monitor=monitor, metric="x", threshold=0, comparison="==")
    assert caught.value.field == "comparison"
