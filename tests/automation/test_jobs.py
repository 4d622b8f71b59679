"""Automation's heavy calls off the API: on a server with background workers, ``POST /automation/gc``,
``/run-due`` and ``/dispatch`` are jobs a worker process runs; the caller gets the answer the API
would have given. (Without workers the API runs them itself: tests/contract.) A hook call is
checked by the API, answered ``202`` with its run ``Pending``, and its action run by a worker. A
bias or explainability report the server computes over a registered dataset is a worker's job too, and
so is a monitor's run over the predictions and labels a request sends. A batch transform is answered
``202`` with its job, which the caller polls (the remote client does) while a worker runs it."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from _polling import until
from _server import admin_token, server_settings, serving
from _serving_models import register, write_line
from _webhook import Hook
from sqlalchemy import select

from slipway import Client
from slipway._backend import Backend
from slipway._operations import (
    ACTION_RUN,
    CLARIFY_BIAS,
    DATASETS_REGISTER,
    FEATURES_INGEST,
    JOB_INPUT,
    MONITOR_RUN,
    job_kind,
)
from slipway.automation import ActionRun, RunStatus, Webhook, sign_hook
from slipway.automation._tables import automation_runs
from slipway.errors import InvalidInput, NotFound
from slipway.monitoring import ExecutionStatus
from slipway.server import create_app
from slipway.store._jobs import jobs
from slipway.store.artifacts._tables import artifacts
from slipway.worker._jobs import HANDLERS


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("automation-jobs")


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[Backend]:
    backend = Backend(server_settings(home))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def worker(home: Path, api: Backend) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m slipway.worker`` on the server's store; its own scheduler off, so only the jobs fire schedules."""
    settings = api.settings
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_DB_URL": settings.db_url,
           "SLIPWAY_ARTIFACT_URL": settings.artifact_url, "SLIPWAY_WEBHOOK_HOSTS": "127.0.0.1",
           "SLIPWAY_SCHEDULER_INTERVAL": "0"}
    with (home / "worker.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "slipway.worker"], cwd=home, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        yield process
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def client(api: Backend, worker: subprocess.Popen[bytes]) -> Iterator[Client]:
    with serving(create_app(api, offload=True)) as url, Client(server_url=url, token=admin_token(api)) as remote:
        yield remote


def _jobs_of(api: Backend, kind: str) -> list[tuple[str, str | None]]:
    with api.db.read() as conn:
        return [tuple(r) for r in conn.execute(select(jobs.c.status, jobs.c.holder).where(jobs.c.kind == kind))]


def _ran_in(worker: subprocess.Popen[bytes]) -> str:
    """The holder a job run by ``worker`` records: the worker process's host and pid, not this one's."""
    assert worker.pid != os.getpid()
    return f"{socket.gethostname()}:{worker.pid}"


def test_gc_is_a_workers_job(api: Backend, client: Client, worker: subprocess.Popen[bytes]) -> None:
    report = client.automation.collect_garbage(dry_run=True, grace_seconds=0)
    assert report == api.automation.collect_garbage(dry_run=True, grace_seconds=0)
    assert _jobs_of(api, "automation.collect_garbage") == [("Succeeded", _ran_in(worker))]


def test_run_due_and_dispatch_are_workers_jobs(api: Backend, client: Client, worker: subprocess.Popen[bytes]) -> None:
    receiver = Hook()
    try:
        start = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
        client.automation.create_schedule("nightly", "0 2 * * *", Webhook(receiver.url, text="nightly"), now=start)
        [fired] = client.automation.run_due_schedules(now=start + dt.timedelta(hours=2))
        assert (fired.source_name, fired.status) == ("nightly", RunStatus.SUCCEEDED)
        assert [r["text"] for r in receiver.received] == ["nightly"]

        client.automation.create_rule("on-finish", "run.finished", Webhook(receiver.url, text="{event.status}"))
        client.tracking.end_run(client.tracking.create_run().id)
        [matched] = client.automation.dispatch_pending(limit=10)
        assert (matched.source_name, matched.status) == ("on-finish", RunStatus.SUCCEEDED)
        assert [r["text"] for r in receiver.received] == ["nightly", "FINISHED"]
    finally:
        receiver.close()
    holder = _ran_in(worker)
    assert _jobs_of(api, "automation.run_due_schedules") == [("Succeeded", holder)]
    assert _jobs_of(api, "automation.dispatch_pending") == [("Succeeded", holder)]



def test_a_hook_call_is_answered_at_once_and_its_action_runs_in_a_worker(
    api: Backend, client: Client, worker: subprocess.Popen[bytes]
) -> None:
    receiver = Hook()
    try:
        secret = client.automation.create_hook("on-push", Webhook(receiver.url, text="{event.commit}")).secret or ""
        body = b'{"commit": "4f2a9c1"}'
        headers = sign_hook(secret, body)
        bad = httpx.post(f"{client.settings.server_url}/hooks/on-push", content=body, headers=sign_hook("guess", body))
        assert bad.status_code == 401  # refused by the API itself, nothing queued
        answer = httpx.post(f"{client.settings.server_url}/hooks/on-push", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        assert accepted["status"] == "Pending" and accepted["event"]["commit"] == "4f2a9c1"
        ran = until(lambda: _ended(client, accepted["id"]), 60, "the worker to run the hook's action")
        assert ran.status is RunStatus.SUCCEEDED and [r["text"] for r in receiver.received] == ["4f2a9c1"]
        assert [r.id for r in client.automation.hook_history("on-push")] == [accepted["id"]]
        again = httpx.post(f"{client.settings.server_url}/hooks/on-push", content=body, headers=headers)
        assert again.status_code == 409  # a replay, refused by the API
    finally:
        receiver.close()
    holder = _ran_in(worker)
    assert _jobs_of(api, ACTION_RUN) == [("Succeeded", holder)]
    with api.db.read() as conn:  # the action's claim was the worker's, not the API process's
        claimed = conn.execute(select(automation_runs.c.claimed_by).where(automation_runs.c.id == accepted["id"]))
        assert claimed.scalar_one() == holder


def _ended(client: Client, run_id: str) -> ActionRun | None:
    run = client.automation.get_run(run_id)
    return run if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None


def test_a_bias_report_over_a_registered_dataset_is_a_workers_job(
    api: Backend, client: Client, worker: subprocess.Popen[bytes]
) -> None:
    frame = pd.DataFrame({"sex": ["M", "F", "I", "M", "F", "I"] * 5, "rings": [12, 8, 5, 11, 9, 4] * 5})
    client.datasets.register("shells", frame)
    report = client.clarify.run_bias({"label": "rings", "label_threshold": 10, "facet": "sex"}, dataset="shells")
    assert report.dataset is not None and report.dataset.startswith("shells")
    assert any(key.startswith("sex=F/") for key in report.summary["pre_training"])  # the metrics per facet value
    assert _jobs_of(api, CLARIFY_BIAS) == [("Succeeded", _ran_in(worker))]


def test_a_model_quality_run_over_records_sent_is_a_workers_job(
    api: Backend, client: Client, worker: subprocess.Popen[bytes]
) -> None:
    ids = [f"i{i}" for i in range(40)]
    truth = [i % 2 for i in range(40)]
    predicted = [t if i % 5 else 1 - t for i, t in enumerate(truth)]  # every fifth wrong
    predictions = pd.DataFrame({"inference_id": ids, "prediction": predicted})
    labels = pd.DataFrame({"inference_id": ids, "label": truth})
    client.monitoring.create_monitor("mq", kind="ModelQuality", problem_type="BinaryClassification",
                                     thresholds={"accuracy": 0.95})
    bad = httpx.post(f"{client.settings.server_url}/api/v1/monitoring/monitors/mq/executions",
                     json={"predictions": "not records"}, headers={"Authorization": f"Bearer {admin_token(api)}"})
    assert 400 <= bad.status_code < 500 and "predictions" in bad.text  # refused by the API, nothing queued
    assert _jobs_of(api, MONITOR_RUN) == []

    run = client.monitoring.run_monitor("mq", predictions, labels=labels)
    assert run.status is ExecutionStatus.COMPLETED_WITH_VIOLATIONS and run.item_count == 40
    assert run.metrics["accuracy"] == pytest.approx(0.8)
    assert _jobs_of(api, MONITOR_RUN) == [("Succeeded", _ran_in(worker))]
    with api.db.read() as conn:  # the records travelled as a staged file, not in the job's row, and it is gone
        [payload] = conn.execute(select(jobs.c.payload).where(jobs.c.kind == MONITOR_RUN)).scalars()
        assert "inference_id" not in payload
        assert conn.execute(select(artifacts.c.path).where(artifacts.c.owner_kind == JOB_INPUT)).all() == []


def test_a_monitor_job_refuses_what_the_server_did_not_write(api: Backend) -> None:
    with pytest.raises(InvalidInput, match="takes no trusted"):
        HANDLERS[MONITOR_RUN](api, {"name": "mq", "trusted": True})


def test_a_batch_transform_is_answered_202_and_run_by_a_worker(
    api: Backend, client: Client, worker: subprocess.Popen[bytes], home: Path
) -> None:
    model = register(api.registry, write_line(home / "line"))
    client.datasets.register("points", pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}))
    url, admin = client.settings.server_url, {"Authorization": f"Bearer {admin_token(api)}"}
    answer = httpx.post(f"{url}/api/v1/transforms", json={"model": model, "dataset": "points", "output": "scored"},
                        headers=admin)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "Pending" and answer.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    done = until(lambda: _job_ended(url, job["id"], admin), 120, "the worker to run the transform")
    assert done["status"] == "Succeeded" and done["result"]["version"]["dataset_name"] == "scored"
    api.security.create_user("stranger", ["scientist"])
    theirs = {"Authorization": f"Bearer {api.security.create_token('stranger', name='t').secret}"}
    assert httpx.get(f"{url}/api/v1/jobs/{job['id']}", headers=theirs).status_code == 404  # not their job

    made = client.serving.transform(model, "points:1", "scored")  # the remote client polls the job for its result
    assert not made.created and made.version.id == done["result"]["version"]["id"]  # the same rows: the same version
    assert client.datasets.load("scored").prediction.tolist() == pytest.approx([2.5, 3.5])
    with pytest.raises(NotFound, match="nowhere"):  # a job's error is raised again, as the route would have
        client.serving.transform(model, "nowhere", "scored")
    holder = _ran_in(worker)
    assert _jobs_of(api, job_kind("serving", "transform")) == [("Succeeded", holder)] * 2 + [("Failed", holder)]


def _job_ended(url: str, job_id: str, headers: dict[str, str]) -> dict[str, object] | None:
    job = httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=headers).json()
    return job if job["status"] in ("Succeeded", "Failed") else None


def test_uploads_ingests_and_materializing_are_workers_jobs(
    api: Backend, client: Client, worker: subprocess.Popen[bytes], home: Path
) -> None:
    """The remote client's calls answer as before, while a worker did the work; the data they sent
    travelled staged and is forgotten. Without Prefer: respond-async a route answers as it always did."""
    made = client.datasets.register("uploads", pd.DataFrame({"x": [1.0, 2.0, 4.0]}))
    assert made.created and made.version.num_rows == 3
    assert client.datasets.get_statistics("uploads", 1)["x"].num_present == 3  # computed by the worker
    assert not client.datasets.register("uploads", pd.DataFrame({"x": [1.0, 2.0, 4.0]})).created

    fs = client.features
    fs.create_group("spend", {"customer": "string", "ts": "timestamp", "spend": "float64"},
                    record_id="customer", event_time="ts")
    at = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    rows = pd.DataFrame({"customer": ["a", "b"], "ts": [at, at], "spend": [1.0, 5.0]})
    assert fs.ingest("spend", rows, online=False).rows == 2
    assert fs.ingest("spend", [{"customer": "c", "ts": at.isoformat(), "spend": 7.0}], online=False).rows == 1
    assert fs.get_online_features("spend", ["a"]) == [{"id": "a", "spend": None}]
    assert fs.materialize("spend").records == 3
    assert fs.get_online_features("spend", ["a", "c"]) == [{"id": "a", "spend": 1.0}, {"id": "c", "spend": 7.0}]
    plain = httpx.post(f"{client.settings.server_url}/api/v1/feature-groups/spend/materialize", json={},
                       headers={"Authorization": f"Bearer {admin_token(api)}"})
    assert plain.status_code == 200 and plain.json() == {"group": "spend", "records": 3}  # the answer as it was

    (home / "rows.csv").write_text("x\n1\n")
    refused = httpx.post(f"{client.settings.server_url}/api/v1/datasets/uploads/versions/from-uri",
                         json={"uri": str(home / "rows.csv")}, headers={"Authorization": f"Bearer {admin_token(api)}"})
    assert refused.status_code == 400 and "dataset_roots" in refused.text  # the worker holds the server's roots: none

    holder = _ran_in(worker)
    assert set(_jobs_of(api, DATASETS_REGISTER)) == {("Succeeded", holder), ("Failed", holder)}
    assert _jobs_of(api, FEATURES_INGEST) == [("Succeeded", holder)] * 2
    assert _jobs_of(api, job_kind("features", "materialize")) == [("Succeeded", holder)] * 2
    with api.db.read() as conn:
        assert conn.execute(select(artifacts.c.path).where(artifacts.c.owner_kind == JOB_INPUT)).all() == []
