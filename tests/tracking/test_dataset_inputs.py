"""The data sets a run read: logged with it, shown on it, searched with ``datasets.*``, kept across migration 0015."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from slipway.errors import Conflict, InvalidInput
from slipway.store import Database
from slipway.store._migrate import _config, upgrade
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import DatasetInput, TrackingService

TRAIN = DatasetInput(name="abalone", digest="a1b2", context="training", source_type="local",
                     source='{"uri": "/data/abalone.csv"}', data_schema='{"mlflow_colspec": []}', tags={"team": "ads"})


def test_inputs_are_part_of_the_run_and_a_second_log_replaces_the_first(tracking: TrackingService) -> None:
    exp = tracking.create_experiment("inputs")
    run = tracking.create_run(exp.id, name="r")
    tracking.log_inputs(run.id, [TRAIN, {"name": "abalone", "digest": "a1b2", "context": "validation"}])
    tracking.log_inputs(run.id, [TRAIN.model_copy(update={"profile": '{"num_rows": 4177}'})])
    inputs = tracking.get_run(run.id).inputs
    assert [(d.name, d.context) for d in inputs] == [("abalone", "training"), ("abalone", "validation")]
    assert inputs[0].profile == '{"num_rows": 4177}' and inputs[0].tags == {"team": "ads"}
    assert tracking.search_runs([exp.id]).runs[0].inputs == inputs


def test_inputs_are_checked(tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("checked").id)
    with pytest.raises(InvalidInput, match=r"datasets\[0\]\.digest"):
        tracking.log_inputs(run.id, [{"name": "x", "digest": "d" * 37}])
    tracking.delete_run(run.id)
    with pytest.raises(Conflict, match="deleted"):
        tracking.log_inputs(run.id, [TRAIN])


def test_runs_are_searched_by_the_data_sets_they_read(tracking: TrackingService) -> None:
    exp = tracking.create_experiment("search-inputs")
    trained = tracking.create_run(exp.id, name="trained")
    evaluated = tracking.create_run(exp.id, name="evaluated")
    tracking.create_run(exp.id, name="none")
    tracking.log_inputs(trained.id, [TRAIN])
    tracking.log_inputs(evaluated.id, [{"name": "rings", "digest": "ff00", "context": "evaluation"}])

    def names(flt: str) -> set[str]:
        return {r.name for r in tracking.search_runs([exp.id], flt).runs}

    assert names("datasets.name = 'abalone'") == {"trained"}
    assert names("datasets.context IN ('training', 'evaluation')") == {"trained", "evaluated"}
    assert names("dataset.digest LIKE 'ff%'") == {"evaluated"}
    assert names("datasets.digest ILIKE 'F%'") == {"evaluated"}
    assert names("datasets.name != 'abalone'") == {"evaluated"}  # a run that read another one
    assert names("datasets.name = 'abalone' or datasets.name = 'rings'") == {"trained", "evaluated"}
    with pytest.raises(InvalidInput, match="unknown dataset key 'rows'"):
        tracking.search_runs([exp.id], "datasets.rows = '3'")
    with pytest.raises(InvalidInput, match="cannot order by datasets.name"):
        tracking.search_runs([exp.id], order_by=["datasets.name"])


def test_migration_0015_moves_mlflows_dataset_links_into_the_runs_inputs(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0014")
    body = {"tags": [{"key": "mlflow.data.context", "value": "training"}, {"key": "team", "value": "ads"}],
            "dataset": {"name": "abalone", "digest": "a1b2", "source_type": "local", "schema": "{}"}}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO experiments VALUES ('e1', 'old', NULL, 'active', 'u', 0, 0)"))
        conn.execute(text("INSERT INTO runs VALUES ('r1', 'e1', 'old run', 'FINISHED', 0, 1, NULL, 'u', 'active')"))
        conn.execute(text("INSERT INTO mlflow_run_links (run_id, kind, key, body) VALUES "
                          "('r1', 'dataset_input', 'k', :body), ('r1', 'model_input', 'm-1', '{}')"),
                     {"body": json.dumps(body)})
    upgrade(db)
    tracking = TrackingService(db, ArtifactStore(db, LocalStorage(tmp_path / "artifacts")))
    (moved,) = tracking.get_run("r1").inputs
    assert moved == DatasetInput(name="abalone", digest="a1b2", context="training", source_type="local",
                                 data_schema="{}", tags={"team": "ads"})
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM mlflow_run_links")).scalars().all() == ["model_input"]
        command.downgrade(_config(conn), "0014")
        conn.commit()
        links = conn.execute(text("SELECT kind, body FROM mlflow_run_links ORDER BY id")).all()
    assert [k for k, _ in links] == ["model_input", "dataset_input"]
    assert json.loads(links[1][1])["dataset"] == body["dataset"]
    db.dispose()
