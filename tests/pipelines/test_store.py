"""The execution store on SQLite and PostgreSQL: versions, transitions, cache lookups, requests, events."""

from __future__ import annotations

import json
from pathlib import Path

import _pipeline_steps as lib
import pytest
from sqlalchemy import select, update

from slipway._kinds import ObjectKind
from slipway._time import now_ms
from slipway.errors import Conflict, NotFound
from slipway.events._tables import events
from slipway.pipelines import Parameter, Pipeline, ProcessingStep, StepStatus, WaitStep
from slipway.pipelines import _queries as q
from slipway.pipelines._artifacts import store_path
from slipway.pipelines._leases import LeaseLost, claim
from slipway.pipelines._liveness import STALE_AFTER_MS
from slipway.pipelines._records import ExecutionStatus
from slipway.pipelines._requests import ExecutionRequests
from slipway.pipelines._state import ExecutionStore, Finished, NewStep
from slipway.pipelines._tables import pipeline_executions
from slipway.pipelines._versions import VersionStore
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage, Owner


def _pipeline(default: int = 3) -> Pipeline:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, default)}, outputs=["data"])
    return Pipeline("stored", [make, WaitStep("Gate", depends_on=[make])])


def test_versions_transitions_cache_and_requests(db: Database, tmp_path: Path) -> None:
    artifacts = ArtifactStore(db, LocalStorage(tmp_path / "blobs"))
    versions = VersionStore(db, artifacts)
    v1 = versions.register(_pipeline())
    assert versions.register(_pipeline()).id == v1.id  # same definition, same version
    v2 = versions.register(_pipeline(4))
    assert (v1.version, v2.version) == (1, 2)
    assert versions.code_source(v1.id, "Make") is not None and versions.code_source(v1.id, "Gate") is None
    [change] = versions.diff("stored", 1, 2).changes
    assert (change.path, change.before, change.after) == ("parameters.n.default", 3, 4)
    with pytest.raises(NotFound, match="has no version 3"):
        versions.get_version("stored", 3)

    store, requests = ExecutionStore(db), ExecutionRequests(db)
    pipeline_id = versions.get_pipeline("stored").id
    execution_id = store.create(
        pipeline_id=pipeline_id,
        version_id=v1.id,
        parameters={"n": 3},
        options={},
        environment={"python": "3"},
        reference_id=None,
        steps=[NewStep("Make", "Processing"), NewStep("Gate", "Wait")],
    )
    assert claim(db, execution_id, "elsewhere:1:1", duration_ms=60_000) is not None
    assert claim(db, execution_id, "elsewhere:1:1", duration_ms=60_000) is None  # held already
    with db.read() as conn:
        steps = {s.step_name: s for s in q.get_execution(conn, execution_id).steps}
    make, gate = steps["Make"], steps["Gate"]

    parts = {"parameters": {"n": 3}}
    begun: list[Finished | None] = []
    store.begin_step(make.id, 1, cache_key="k" * 64, cache_parts=parts, inputs={}, reuse_after=0, then=begun.append)
    assert begun == [None]  # nothing to reuse: Running
    output = tmp_path / "out"
    output.mkdir()
    (output / "numbers.json").write_text("[0, 1, 2]")
    ref = store_path(artifacts, Owner(ObjectKind.STEP_EXECUTION, make.id), "outputs/data", output)
    store.step_succeeded(make.id, 1, Finished(outputs={"data": ref}, properties={"count": 3}), worker="w:1")
    with db.read() as conn:
        hit = q.find_cached(conn, "k" * 64, not_before=None)
        assert hit is not None and hit.id == make.id
        assert q.find_cached(conn, "k" * 64, not_before=now_ms() + 60_000) is None  # expired
        assert q.step_outputs(conn, make.id) == {"data": ref}
    artifacts.delete(Owner(ObjectKind.STEP_EXECUTION, make.id), "outputs/data")
    with db.read() as conn:
        assert q.find_cached(conn, "k" * 64, not_before=None) is None  # its outputs are gone

    store.step_waiting(gate.id, None)
    requests.signal(execution_id, "Gate", {"approved": True})
    assert store.heartbeat(execution_id).signals == {"Gate": {"approved": True}}
    with pytest.raises(Conflict, match="only Wait steps"):
        requests.signal(execution_id, "Make", {})
    assert requests.request_stop(execution_id) is False  # Running: its orchestrator will stop it
    assert store.heartbeat(execution_id).stop_requested

    assert requests.mark_interrupted(now_ms()) == []  # another host's orchestrator, heard from just now
    later = now_ms() + STALE_AFTER_MS + 1
    assert requests.mark_interrupted(later) == [execution_id]  # silent for longer than a heartbeat may be
    with db.read() as conn:
        interrupted = q.get_execution(conn, execution_id)
    assert interrupted.status is ExecutionStatus.INTERRUPTED
    assert interrupted.step("Gate").status is StepStatus.STOPPED
    requests.prepare_resume(execution_id)
    with db.read() as conn:
        resumed = q.get_execution(conn, execution_id)
    assert resumed.status is ExecutionStatus.PENDING and resumed.step("Gate").status is StepStatus.PENDING
    assert resumed.step("Make").status is StepStatus.SUCCEEDED
    assert claim(db, execution_id, "here:2:2", duration_ms=60_000) is not None
    store.finish(execution_id, ExecutionStatus.SUCCEEDED)
    with db.read() as conn:
        published = conn.execute(select(events.c.type, events.c.payload).where(events.c.object_id == execution_id))
        [(kind, payload)] = published.all()
        assert kind == "pipeline_execution.succeeded"
        assert json.loads(payload)["pipeline"] == "stored"
        assert [e.id for e in q.list_executions(conn, pipeline="stored", status="Succeeded", limit=5)] == [execution_id]
    with pytest.raises(Conflict, match="already Succeeded"):
        requests.request_stop(execution_id)


def test_a_batch_writes_its_transitions_together_after_its_block(db: Database, tmp_path: Path) -> None:
    versions = VersionStore(db, ArtifactStore(db, LocalStorage(tmp_path / "blobs")))
    version = versions.register(_pipeline())
    execution_id = ExecutionStore(db).create(
        pipeline_id=versions.get_pipeline("stored").id, version_id=version.id, parameters={"n": 3}, options={},
        environment={}, reference_id=None, steps=[NewStep("Make", "Processing"), NewStep("Gate", "Wait")],
        queued=True,  # a server's: another orchestrator may take it over
    )
    lease = claim(db, execution_id, "here:1:1", duration_ms=60_000)
    store = ExecutionStore(db, lease)

    def statuses() -> dict[str, StepStatus]:
        with db.read() as conn:
            return {s.step_name: s.status for s in q.get_execution(conn, execution_id).steps}

    with db.read() as conn:
        ids = {s.step_name: s.id for s in q.get_execution(conn, execution_id).steps}
    begun: list[Finished | None] = []
    with pytest.raises(RuntimeError), store.batch():
        store.begin_step(ids["Make"], 1, cache_key="b" * 64, cache_parts={}, inputs={}, reuse_after=None,
                         then=begun.append)
        raise RuntimeError("the round failed")
    assert begun == [] and statuses()["Make"] is StepStatus.PENDING  # nothing of a failed round is written
    with store.batch():
        store.begin_step(ids["Make"], 1, cache_key="b" * 64, cache_parts={}, inputs={}, reuse_after=None,
                         then=begun.append)
        store.step_waiting(ids["Gate"], None)
        assert statuses() == {"Make": StepStatus.PENDING, "Gate": StepStatus.PENDING}  # not yet
        assert begun == []
    assert begun == [None] and statuses() == {"Make": StepStatus.RUNNING, "Gate": StepStatus.WAITING}

    assert claim(db, execution_id, "there:2:2", duration_ms=60_000) is None  # still held: the batch renewed it
    with db.write() as conn:  # the lease runs out; another orchestrator takes the execution over
        conn.execute(
            update(pipeline_executions).where(pipeline_executions.c.id == execution_id).values(lease_expires_at=0)
        )
    assert claim(db, execution_id, "there:2:2", duration_ms=60_000) is not None
    with pytest.raises(LeaseLost), store.batch():
        store.step_succeeded(ids["Make"], 1, Finished(), worker=None)
    assert statuses()["Make"] is StepStatus.PENDING  # reopened by the new holder, untouched by the old
