"""Worker processes for the concurrency tests: importable by name from a spawned process
(``tests/`` is on the path; a test module's own name is not importable there)."""

from pathlib import Path

from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService

WORKERS = 8
POINTS = 150


def log_from_one_process(db_url: str, artifact_root: str, worker: int, shared_run: str) -> None:
    db = Database(db_url)
    db.ensure_schema()
    svc = TrackingService(db, ArtifactStore(db, LocalStorage(Path(artifact_root))))
    exp = svc.get_or_create_experiment("contended")  # every worker races to create it
    run = svc.create_run(exp.id, name=f"worker-{worker}")
    for step in range(POINTS):
        svc.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
        svc.log_metric(shared_run, f"w{worker}", float(step), step=step)
    svc.log_batch(
        run.id, metrics=[{"key": "batch", "value": float(i), "step": i} for i in range(500)], params={"worker": worker}
    )
    db.dispose()
