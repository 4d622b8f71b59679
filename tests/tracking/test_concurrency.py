"""Eight processes writing at once lose nothing and see no "database is locked"."""

import multiprocessing as mp
from pathlib import Path

import pytest
from _tracking_workers import POINTS, WORKERS, log_from_one_process

from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_eight_processes_log_concurrently(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # a fresh SQLite file: the workers also race to run the migration
    url = f"sqlite:///{tmp_path / 'shared.db'}" if engine == "sqlite" else request.getfixturevalue("pg_url")
    setup_db = Database(url)
    setup_db.ensure_schema()
    svc = TrackingService(setup_db, ArtifactStore(setup_db, LocalStorage(tmp_path / "a")))
    shared = svc.create_run(name="shared")

    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=log_from_one_process, args=(url, str(tmp_path / "a"), i, shared.id)) for i in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * WORKERS, "a worker failed (see its traceback above)"

    runs = svc.search_runs(filter="attributes.run_name LIKE 'worker-%'").runs
    assert len(runs) == WORKERS
    assert len({r.experiment_id for r in runs}) == 1
    for r in runs:
        assert len(svc.get_metric_history(r.id, "loss")) == POINTS
        assert len(svc.get_metric_history(r.id, "batch")) == 500
        assert r.metrics["loss"].step == POINTS - 1
    shared_after = svc.get_run(shared.id)
    assert sorted(shared_after.metrics) == sorted(f"w{i}" for i in range(WORKERS))
    assert all(len(svc.get_metric_history(shared.id, f"w{i}")) == POINTS for i in range(WORKERS))
    setup_db.dispose()
