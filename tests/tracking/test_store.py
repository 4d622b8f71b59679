"""Tracking storage behaviour that must hold on SQLite and PostgreSQL alike."""

import math

import pytest
from sqlalchemy import func, select

from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.events._tables import audit_events, events
from slipway.lineage import LineageService
from slipway.tracking import RunStatus, TrackingService


def test_latest_metric_is_highest_step_then_latest_time(tracking: TrackingService) -> None:
    run = tracking.create_run(name="r")
    tracking.log_metric(run.id, "loss", 3.0, step=5, timestamp=1000)
    tracking.log_metric(run.id, "loss", 9.0, step=1, timestamp=5000)  # older step logged later
    tracking.log_metric(run.id, "loss", 2.0, step=5, timestamp=2000)
    latest = tracking.get_run(run.id).metrics["loss"]
    assert (latest.value, latest.step) == (2.0, 5)
    history = tracking.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 9.0), (5, 3.0), (5, 2.0)]


def test_points_sharing_step_and_time_keep_the_order_they_were_logged(tracking: TrackingService) -> None:
    run = tracking.create_run()
    tracking.log_metric(run.id, "loss", 1.0, step=0, timestamp=1000)
    batch = ((-1, 0.5), (0, 2.0), (0, 3.0), (7, 9.0))  # the second clashes with the point above
    tracking.log_batch(run.id, metrics=[{"key": "loss", "value": v, "step": s, "timestamp": 1000} for s, v in batch])
    for _ in range(2):  # the same point twice is two points
        tracking.log_metric(run.id, "loss", 4.0, step=0, timestamp=1000)
    history = tracking.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [
        (-1, 0.5), (0, 1.0), (0, 2.0), (0, 3.0), (0, 4.0), (0, 4.0), (7, 9.0)
    ]
    assert tracking.get_run(run.id).metrics["loss"].value == 9.0


def test_nan_and_infinity_round_trip(tracking: TrackingService) -> None:
    run = tracking.create_run()
    tracking.log_batch(
        run.id,
        metrics=[
            {"key": "a", "value": float("nan")},
            {"key": "b", "value": float("inf")},
            {"key": "c", "value": float("-inf"), "step": -3},
        ],
    )
    got = tracking.get_run(run.id).metrics
    assert math.isnan(got["a"].value)
    assert got["b"].value == math.inf
    assert got["c"].value == -math.inf and got["c"].step == -3
    # NaN never satisfies a comparison; infinity does
    assert tracking.search_runs(filter="metrics.a < 1e308").runs == []
    assert [r.id for r in tracking.search_runs(filter="metrics.b > 1e308").runs] == [run.id]


def test_batch_is_all_or_nothing(tracking: TrackingService) -> None:
    run = tracking.create_run()
    tracking.log_param(run.id, "lr", 0.1)
    with pytest.raises(Conflict, match="lr"):
        tracking.log_batch(run.id, metrics=[{"key": "m", "value": 1.0}], params={"lr": 0.2, "depth": 3})
    stored = tracking.get_run(run.id)
    assert stored.params == {"lr": "0.1"}
    assert stored.metrics == {}
    tracking.log_batch(run.id, params={"lr": 0.1, "depth": 3})  # a param logged again with its value: no change
    assert tracking.get_run(run.id).params == {"lr": "0.1", "depth": "3"}


def test_invalid_values_name_the_field(tracking: TrackingService) -> None:
    run = tracking.create_run()
    with pytest.raises(InvalidInput) as exc:
        tracking.log_metric(run.id, "bad key\n", 1.0)
    assert exc.value.field == "metric.key"
    with pytest.raises(InvalidInput, match="must be a number"):
        tracking.log_metric(run.id, "m", "abc")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="limit is 8000"):
        tracking.log_param(run.id, "p", "x" * 8001)
    with pytest.raises(InvalidInput, match="step"):
        tracking.log_metric(run.id, "m", 1.0, step=1.5)  # type: ignore[arg-type]


def test_unicode_names_and_keys(tracking: TrackingService) -> None:
    exp = tracking.create_experiment("Ünïcode 实验 🚢")
    run = tracking.create_run(exp.id, name="лодка")
    tracking.log_metric(run.id, "точность", 0.9)
    tracking.log_param(run.id, "学习率", "0.01")
    found = tracking.search_runs([exp.id], filter="metrics.`точность` > 0.5 and params.`学习率` = '0.01'").runs
    assert [r.name for r in found] == ["лодка"]


def test_experiment_names_are_unique_and_deleted_ones_keep_their_name(tracking: TrackingService) -> None:
    exp = tracking.create_experiment("e")
    with pytest.raises(AlreadyExists):
        tracking.create_experiment("e")
    tracking.delete_experiment(exp.id)
    assert "e" not in [e.name for e in tracking.list_experiments()]
    with pytest.raises(Conflict, match="deleted"):
        tracking.create_run(exp.id)
    tracking.restore_experiment(exp.id)
    run = tracking.create_run(exp.id)
    tracking.delete_experiment(exp.id)
    assert tracking.search_runs().runs == [], "a deleted experiment hides its runs"
    assert [r.id for r in tracking.search_runs(include_deleted=True).runs] == [run.id]


def test_logging_to_unknown_or_deleted_run(tracking: TrackingService) -> None:
    with pytest.raises(NotFound, match="nope"):
        tracking.log_metric("nope", "m", 1.0)
    run = tracking.create_run()
    tracking.delete_run(run.id)
    with pytest.raises(Conflict, match="deleted"):
        tracking.log_metric(run.id, "m", 1.0)
    assert tracking.search_runs().runs == []
    assert [r.id for r in tracking.search_runs(include_deleted=True).runs] == [run.id]


def test_changes_write_audit_entries_and_events_in_the_same_transaction(tracking: TrackingService, db) -> None:
    exp = tracking.create_experiment("audited")
    run = tracking.create_run(exp.id)
    tracking.end_run(run.id, RunStatus.FAILED)
    with db.read() as conn:
        actions = [r.action for r in conn.execute(select(audit_events).order_by(audit_events.c.seq))]
        types = [r.type for r in conn.execute(select(events).order_by(events.c.seq))]
    assert actions == ["experiment.create", "run.create", "run.update"]
    assert types == ["experiment.created", "run.created", "run.finished"]
    # a change that fails leaves neither
    with pytest.raises(AlreadyExists):
        tracking.create_experiment("audited")
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == 3


def test_artifacts_are_recorded_in_lineage(tracking: TrackingService, db, tmp_path) -> None:
    run = tracking.create_run()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.txt").write_text("weights")
    (tmp_path / "out" / "report.md").write_text("# report")
    tracking.log_artifact(run.id, tmp_path / "out", "model")
    graph = LineageService(db).downstream("run", run.id)
    assert {n.id for n in graph.nodes if n.kind == "artifact"} == {
        f"run/{run.id}/model/model.txt",
        f"run/{run.id}/model/report.md",
    }
    assert {e.relation for e in graph.edges} == {"produced"}


def test_batch_stores_its_writes_together_or_none(tracking: TrackingService) -> None:
    """A run's end and the next run's start in one transaction (what a tuning trial costs): both
    stored, with the end time given, and the audit chain intact; none when the block raises."""
    from slipway.events import first_broken_audit_entry

    exp = tracking.create_experiment("batched").id
    first = tracking.create_run(exp, name="first").id
    ended = tracking.get_run(first).start_time.timestamp() * 1000 + 5
    with pytest.raises(RuntimeError), tracking.batch():
        tracking.log_batch(first, metrics=[{"key": "loss", "value": 1.0}], end_status=RunStatus.FINISHED)
        tracking.create_run(exp, name="lost")
        raise RuntimeError("the block fails")
    assert tracking.get_run(first).status is RunStatus.RUNNING
    assert [r.name for r in tracking.search_runs([exp]).runs] == ["first"]
    with tracking.batch():
        tracking.log_batch(
            first, metrics=[{"key": "loss", "value": 1.0}], tags={"state": "done"},
            end_status=RunStatus.FINISHED, end_time=int(ended),
        )
        second = tracking.create_run(exp, name="second", parent_run_id=first, params={"x": "1"}).id
        tracking.log_metric(second, "loss", 2.0)  # a single point joins the block's transaction too
    done = tracking.get_run(first)
    assert (done.status, done.tags["state"], done.metrics["loss"].value) == (RunStatus.FINISHED, "done", 1.0)
    assert done.end_time is not None and done.end_time.timestamp() * 1000 == int(ended)
    assert tracking.get_run(second).metrics["loss"].value == 2.0
    with tracking._db.read() as conn:
        assert first_broken_audit_entry(conn) is None
