"""Distributed tuning: trials in other processes and on Ray share one Optuna study beside the metadata DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _pipeline_steps as lib
import optuna
import pytest
from sqlalchemy import create_engine, text

from slipway import load_settings
from slipway._backend import Backend
from slipway.pipelines import (
    Categorical,
    ExecutionStatus,
    FloatRange,
    IntRange,
    LocalExecutor,
    MedianPruning,
    Pipeline,
    PipelineService,
    Resources,
    ServiceSpec,
    TuningStep,
)
from slipway.pipelines._studies import OPTUNA_SCHEMA, execution_of, open_storage
from slipway.tracking import Run

SPACE = {"x": FloatRange(0.1, 4.0, log=True), "y": IntRange(1, 5), "kind": Categorical(["a", "b"])}


def _trials(backend: Backend, props: dict[str, Any]) -> list[Run]:
    runs = backend.tracking.search_runs(filter=f"parent_run_id = '{props['run_id']}'").runs
    return sorted(runs, key=lambda r: int(r.tags["slipway.tuning.trial"]))


@pytest.mark.ray
def test_trials_on_ray_share_one_study_two_at_a_time_and_are_pruned(
    ray_cluster: Any, service: PipelineService, backend: Backend
) -> None:
    # The random sampler's draws with seed 4 are fixed: trials 0-2 have losses 2.38, 1.47, 3.05 and
    # trials 3-5 5.17, 5.6, 7.25, worse than any two of the first three, so the median pruner stops
    # those at their first report, on whichever worker, by reading the others' values in the study.
    tune = TuningStep(
        "Tune",
        lib.paced_quadratic,
        search_space=SPACE,
        objective="loss",
        hyperparameters={"pause": 0.2},
        sampler="random",
        seed=4,
        pruner=MedianPruning(startup_trials=2),
        max_trials=6,
        max_parallel_trials=2,
        executor="ray",
    )
    execution = service.run(Pipeline("tune-on-ray", [tune]), executor="ray")
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    props = execution.step("Tune").properties or {}
    states = [t["state"] for t in props["trials"]]
    assert states[:2] == ["COMPLETE", "COMPLETE"] and states[3:] == ["PRUNED"] * 3, states
    assert props["best_trial"] == 1 and props["best_value"] == pytest.approx(1.47, abs=0.01)

    trials = _trials(backend, props)
    assert [r.tags["slipway.tuning.state"] for r in trials] == states
    assert [r.status.value for r in trials[3:]] == ["KILLED"] * 3
    assert len({r.tags["slipway.tuning.worker"] for r in trials}) >= 2  # more than one Ray worker ran them
    # Never more than two at once: at each trial's start, count the trials that had started and not ended.
    spans = [(r.metrics["started_at"].value, r.end_time.timestamp()) for r in trials if r.end_time]
    assert max(sum(s <= start < e for s, e in spans) for start, _ in spans) <= 2

    # The study is Optuna's own, beside the metadata database: Optuna's tools read it as they are.
    study = optuna.load_study(study_name=props["study"], storage=open_storage(backend.settings.db_url))
    assert [t.state.name for t in study.trials] == states
    assert [t.user_attrs["run_id"] for t in study.trials] == [r.id for r in trials]
    [model] = execution.step("Tune").outputs
    assert model.name == "model"


def test_trials_in_processes_on_postgresql_keep_optuna_in_its_own_schema(
    pg_url: str, tmp_path: Path, pool: LocalExecutor
) -> None:
    settings = load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"), db_url=pg_url)
    backend = Backend(settings)
    service = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, settings), local_executor=pool)
    try:
        tune = TuningStep(
            "Tune", lib.quadratic, search_space=SPACE, objective="loss", sampler="random", seed=4,
            max_trials=3, max_parallel_trials=1, executor="processes", resources=Resources(cpus=1),
        )  # one at a time: the step sets each trial's run_id on the study (the Ray test's trials set their own)
        execution = service.run(Pipeline("tune-in-processes", [tune]))
        assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
        props = execution.step("Tune").properties or {}
        trials = _trials(backend, props)
        assert [r.tags["slipway.tuning.state"] for r in trials] == ["COMPLETE"] * 3
        # Each run ended (by the step, from the trial's report) with its objective and its own end time.
        assert all(r.status.value == "FINISHED" and "loss" in r.metrics and r.end_time for r in trials)
        step_worker = execution.step("Tune").attempt_history[-1].worker
        assert step_worker not in {r.tags["slipway.tuning.worker"] for r in trials}
        assert props["best_value"] == pytest.approx(1.47, abs=0.01)
        assert execution_of(props["study"]) == execution.id  # whose it is, for garbage collection
        study = optuna.load_study(study_name=props["study"], storage=open_storage(pg_url))
        assert [t.user_attrs["run_id"] for t in study.trials] == [r.id for r in trials]
    finally:
        service.close()
        backend.close()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        schemas = dict(conn.execute(text(
            "SELECT table_name, table_schema FROM information_schema.tables "
            "WHERE table_name IN ('trials', 'studies', 'runs')"
        )).all())
        ours = conn.execute(text("SELECT count(*) FROM public.alembic_version")).scalar()
    engine.dispose()
    assert schemas == {"trials": OPTUNA_SCHEMA, "studies": OPTUNA_SCHEMA, "runs": "public"}
    assert ours == 1  # Slipway's migrations untouched by Optuna's
