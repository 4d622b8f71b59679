"""The monitoring service: stored baselines, monitors, executions with reports and metrics, alarms and webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _webhook import Hook
from sqlalchemy import select

from slipway import Client
from slipway.errors import AlreadyExists, InvalidInput, NotFound
from slipway.events._tables import events
from slipway.monitoring import AlarmState, ExecutionStatus, MonitoringService


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(home=tmp_path / "home") as c:
        yield c


@pytest.fixture
def service(client: Client) -> MonitoringService:
    return client.monitoring


def test_baselines_are_versioned_artifacts(service: MonitoringService, abalone: pd.DataFrame) -> None:
    first = service.create_baseline("abalone", abalone)
    second = service.create_baseline("abalone", abalone.head(1000))
    assert (first.version, second.version, second.item_count) == (1, 2, 1000)
    assert service.get_baseline("abalone").statistics.item_count == 1000
    assert service.get_baseline("abalone", 1).statistics.item_count == len(abalone)
    assert [b.ref for b in service.list_baselines()] == ["abalone:2", "abalone:1"]
    with pytest.raises(NotFound):
        service.get_baseline("abalone", 3)
    with pytest.raises(InvalidInput, match="either data or a dataset"):
        service.create_baseline("nothing")


def test_a_baseline_from_a_registered_dataset_is_in_its_lineage(client: Client, abalone: pd.DataFrame) -> None:
    client.datasets.register("abalone", abalone)
    made = client.monitoring.create_baseline("from-dataset", dataset="abalone:1")
    assert made.source == "abalone:1" and made.item_count == len(abalone)
    graph = client.datasets.lineage("abalone", 1, direction="downstream")
    assert ("monitoring_baseline", made.id) in {node.key for node in graph.nodes}


def test_a_drifted_run_names_the_features_and_raises_the_alarm(
    client: Client, service: MonitoringService, abalone: pd.DataFrame, drifted: pd.DataFrame,
    drifted_columns: set[str], hook: Hook, tmp_path: Path,
) -> None:
    service.create_baseline("abalone", abalone)
    service.create_monitor("abalone-dq", baseline="abalone")
    alarm = service.create_alarm("abalone-drift", monitor="abalone-dq", metric="violations.baseline_drift_check",
                                 threshold=0, evaluation_periods=2, webhooks=[hook.url])
    assert alarm.state is AlarmState.INSUFFICIENT_DATA

    calm = service.run_monitor("abalone-dq", abalone.sample(frac=0.5, random_state=3))
    assert calm.status is ExecutionStatus.COMPLETED and calm.violation_count == 0
    assert service.get_alarm("abalone-drift").state is AlarmState.INSUFFICIENT_DATA  # one of two periods

    first = service.run_monitor("abalone-dq", drifted)
    assert first.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and first.violation_count == 3
    assert first.metrics["drift.length"] > 0.1 and first.metrics["drift.diameter"] < 0.1
    assert service.get_alarm("abalone-drift").state is AlarmState.OK  # one of the last two crossed

    service.run_monitor("abalone-dq", drifted)
    assert service.get_alarm("abalone-drift").state is AlarmState.ALARM
    assert [(h["old_state"], h["new_state"]) for h in hook.received] == [
        ("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")]
    assert hook.received[-1]["alarm"] == "abalone-drift" and hook.received[-1]["monitor"] == "abalone-dq"

    violations = json.loads(service.read_report(first.id, "constraint_violations.json"))["violations"]
    assert {v["feature_name"] for v in violations} == drifted_columns
    assert "<svg" in service.read_report(first.id, "report.html").decode()
    folder = service.download_report(first.id, tmp_path / "report")
    assert (folder / "drift.json").is_file()
    assert [e.id for e in service.list_executions("abalone-dq")][1] == first.id

    with client.backend.db.read() as conn:
        published = [r.type for r in conn.execute(select(events.c.type).order_by(events.c.created_at))]
    assert published.count("alarm.state_changed") == 2
    assert published.count("monitor_execution.completed") == 3


def test_an_unreachable_webhook_does_not_undo_the_transition(
    service: MonitoringService, abalone: pd.DataFrame, drifted: pd.DataFrame
) -> None:
    service.create_baseline("abalone", abalone)
    service.create_monitor("dq", baseline="abalone")
    service.create_alarm("any", monitor="dq", metric="violations.total", threshold=0,
                         webhooks=["http://127.0.0.1:9/nobody-listens"])
    service.run_monitor("dq", drifted)
    assert service.get_alarm("any").state is AlarmState.ALARM


def test_input_the_monitor_cannot_use_gives_a_failed_execution(
    service: MonitoringService, abalone: pd.DataFrame, tmp_path: Path
) -> None:
    service.create_baseline("abalone", abalone)
    service.create_monitor("dq", baseline="abalone")
    failed = service.run_monitor("dq", str(tmp_path / "missing.csv"))
    assert failed.status is ExecutionStatus.FAILED and "missing.csv" in (failed.message or "")


def test_model_quality_monitor(service: MonitoringService) -> None:
    rng = np.random.default_rng(4)
    truth = rng.normal(10, 3, 300)
    ids = [f"inf-{i}" for i in range(300)]
    predictions = pd.DataFrame({"inference_id": ids, "prediction": truth + rng.normal(0, 2, 300)})
    labels = pd.DataFrame({"inference_id": ids[:250], "label": truth[:250]})
    service.create_monitor("rings-quality", kind="ModelQuality", problem_type="Regression",
                           thresholds={"mae": 1.0, "r2": 0.5})
    run = service.run_monitor("rings-quality", predictions, labels=labels)
    assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and run.item_count == 250
    assert set(run.metrics) >= {"mae", "mse", "rmse", "r2"} and run.metrics["mae"] > 1.0
    report = json.loads(service.read_report(run.id, "model_quality.json"))
    assert report["matched"] == 250 and report["unmatched"] == 50
    violations = json.loads(service.read_report(run.id, "constraint_violations.json"))["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("mae", "model_quality_check")]
    assert service.run_monitor("rings-quality", predictions).status is ExecutionStatus.FAILED  # no labels


def test_invalid_monitors_and_alarms(service: MonitoringService, abalone: pd.DataFrame) -> None:
    service.create_baseline("abalone", abalone)
    with pytest.raises(InvalidInput, match="needs a baseline"):
        service.create_monitor("dq")
    with pytest.raises(NotFound):
        service.create_monitor("dq", baseline="abalone:7")
    service.create_monitor("dq", baseline="abalone")
    assert service.get_monitor("dq").baseline == "abalone:1"
    with pytest.raises(AlreadyExists):
        service.create_monitor("dq", baseline="abalone")
    with pytest.raises(InvalidInput) as caught:
        service.create_alarm("a", monitor="dq", metric="violations.total", threshold=0, comparison="!=")
    assert caught.value.field == "comparison"
    with pytest.raises(InvalidInput) as caught:
        service.create_alarm("a", monitor="dq", metric="x", threshold=0, evaluation_periods=2, datapoints_to_alarm=3)
    assert caught.value.field == "datapoints_to_alarm"
    with pytest.raises(InvalidInput) as caught:
        service.create_alarm("a", monitor="dq", metric="x", threshold=0, webhooks=["file:///etc/passwd"])
    assert caught.value.field == "webhooks"
    with pytest.raises(NotFound):
        service.create_alarm("a", monitor="nope", metric="x", threshold=0)


def test_custom_rules(service: MonitoringService, abalone: pd.DataFrame) -> None:
    service.create_baseline("abalone", abalone)
    made = service.create_monitor("dq", baseline="abalone", rules=["_monitoring_rules:rows_halved"])
    assert made.rules == ["_monitoring_rules:rows_halved"]
    assert service.run_monitor("dq", abalone).violation_count == 0
    few = service.run_monitor("dq", abalone.sample(n=1500, random_state=0))  # the same distribution, fewer rows
    assert [(v["feature_name"], v["constraint_check_type"]) for v in service.read_violations(few.id)] == [
        ("*", "custom_row_count_check")]
    assert few.metrics["violations.total"] == 1
    with pytest.raises(InvalidInput, match="cannot load rule") as caught:
        service.create_monitor("bad", baseline="abalone", rules=["_monitoring_rules:missing"])
    assert caught.value.field == "rules.0"
    service.create_monitor("odd", baseline="abalone", rules=["_monitoring_rules:not_violations"])
    odd = service.run_monitor("odd", abalone)
    assert odd.status is ExecutionStatus.FAILED and "not Violation" in (odd.message or "")
