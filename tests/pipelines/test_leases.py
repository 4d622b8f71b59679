"""Executions owned by leases: a server queues what it starts, workers claim it, and when the holder
is killed another worker takes the execution over and finishes it without re-running finished steps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _pipeline_steps as lib
import pytest
from _polling import until
from _server import admin_token, server_settings, serving
from fastapi.testclient import TestClient

from slipway import Client, load_settings
from slipway._backend import Backend
from slipway.pipelines import (
    ExecutionStatus,
    LocalExecutor,
    Pipeline,
    PipelineService,
    ProcessingStep,
    ServiceSpec,
    StepStatus,
)
from slipway.pipelines._leases import Lease, LeaseLost, claim, claimable, renew
from slipway.server import create_app

TESTS = Path(__file__).resolve().parents[1]
LEASE_S = 2.0


def _queueing_service(backend: Backend, pool: LocalExecutor) -> PipelineService:
    """A server's service that only queues (its workers orchestrate), on the session's pool."""
    service = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                              local_executor=pool, queue=True, orchestrate=False)
    backend.__dict__["pipelines"] = service
    return service


@pytest.mark.postgres
def test_two_workers_the_holder_killed_mid_step_the_other_finishes(
    pg_url: str, tmp_path: Path, counter: Path, pool: LocalExecutor
) -> None:
    env = {"SLIPWAY_DB_URL": pg_url, "SLIPWAY_HOME": str(tmp_path / "home"),
           "SLIPWAY_PIPELINE_MODULES": "_pipeline_steps", "SLIPWAY_LEASE_SECONDS": str(LEASE_S)}
    settings = load_settings(env=env, cwd=tmp_path)
    backend = Backend(settings)
    backend.orchestrates = False
    _queueing_service(backend, pool)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    worker_env = {**os.environ, **env, "TMPDIR": str(scratch),
                  "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    workers = [
        subprocess.Popen([str(Path(sys.executable).parent / "slipway"), "worker"], cwd=tmp_path, env=worker_env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    marker = tmp_path / "slow-started"
    try:
        with serving(create_app(backend)) as url, Client(server_url=url, token=admin_token(backend)) as client:
            started = client.pipelines.start(lib.resumable, parameters={"marker": str(marker), "counter": str(counter)})
            assert started.queued

            def slow_running() -> Any:
                for w in workers:
                    assert w.poll() is None, w.stderr.read().decode() if w.stderr else ""
                execution = client.pipelines.get_execution(started.id)
                return execution if marker.exists() and execution.step("Slow").status is StepStatus.RUNNING else None

            holding = until(slow_running, 90, "a worker to run the slow step")
            holder_pid = int(holding.orchestrator.split(":")[1])
            (killed,) = [w for w in workers if w.pid == holder_pid]
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=30)

            done = client.pipelines.wait(started.id, timeout=60)
            assert done.status is ExecutionStatus.SUCCEEDED, done.failure_reason
            assert done.step("First").attempts == 1  # finished before the kill: not run again
            slow = done.step("Slow")
            assert [a.status for a in slow.attempt_history] == [StepStatus.STOPPED, StepStatus.SUCCEEDED]
            assert "lost its lease" in (slow.attempt_history[0].error or "")
            assert done.step("Last").attempts == 1
            assert lib.runs(counter) == ["numbers", "slow_once", "slow_once", "total"]

            claims = [e for e in client.security.audit_entries(object_id=started.id)
                      if e.action == "pipeline_execution.claim"]
            assert len(claims) == 2, [(e.at.time(), e.details) for e in claims]
            first, second = claims
            assert first.details["orchestrator"] == holding.orchestrator
            assert second.details["previous"] == holding.orchestrator
            assert int(second.details["orchestrator"].split(":")[1]) != holder_pid
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait(timeout=30)
        backend.close()


@pytest.fixture
def queued(backend: Backend, pool: LocalExecutor) -> Iterator[tuple[PipelineService, str]]:
    service = _queueing_service(backend, pool)
    execution = service.start(lib.resumable, parameters={"marker": "unused"})
    yield service, execution.id


def test_one_claim_wins_and_a_lost_lease_refuses_the_old_holders_writes(
    backend: Backend, queued: tuple[PipelineService, str]
) -> None:
    service, execution_id = queued
    assert claimable(backend.db, 10) == [execution_id]
    first = claim(backend.db, execution_id, "a:1:1", duration_ms=60_000)
    assert first is not None
    assert claim(backend.db, execution_id, "b:2:2", duration_ms=60_000) is None  # held: nobody else gets it
    assert claimable(backend.db, 10) == []

    with backend.db.write() as conn:  # the holder stops renewing: its lease runs out, the execution is free again
        renew(conn, Lease(execution_id, "a:1:1", first.token, duration_ms=-1))
    assert claimable(backend.db, 10) == [execution_id]
    second = claim(backend.db, execution_id, "b:2:2", duration_ms=60_000)
    assert second is not None and second.token == first.token + 1
    with pytest.raises(LeaseLost), backend.db.write() as conn:
        renew(conn, first)  # the old holder's next write is refused
    execution = service.get_execution(execution_id)
    assert execution.status is ExecutionStatus.RUNNING and execution.orchestrator == "b:2:2"


def test_stopping_a_queued_execution_nobody_holds_ends_it_at_once(
    backend: Backend, queued: tuple[PipelineService, str]
) -> None:
    service, execution_id = queued
    stopped = service.stop(execution_id)
    assert stopped.status is ExecutionStatus.STOPPED
    assert claim(backend.db, execution_id, "a:1:1", duration_ms=60_000) is None


def test_a_server_without_workers_claims_the_queued_executions_nobody_holds(
    tmp_path: Path, pool: LocalExecutor
) -> None:
    backend = Backend(server_settings(tmp_path / "server"))
    try:
        queueing = _queueing_service(backend, pool)  # what a server whose workers are gone has left behind
        execution = queueing.start(Pipeline("quick", [ProcessingStep("Square", lib.square, inputs={"x": 3})]))
        assert execution.status is ExecutionStatus.PENDING
        with TestClient(create_app(backend), base_url="http://localhost"):  # its lifespan claims, as a worker does
            done = queueing.wait(execution.id, timeout=60)
        assert done.status is ExecutionStatus.SUCCEEDED, done.failure_reason
    finally:
        backend.close()
