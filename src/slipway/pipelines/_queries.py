"""Reading executions and step executions back as records (SQLAlchemy rows never leave this module)."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, bindparam, exists, select

from slipway._time import ms_to_datetime
from slipway.errors import InvalidInput, NotFound
from slipway.pipelines._artifacts import ArtifactRef
from slipway.pipelines._expressions import step_names_in_json
from slipway.pipelines._records import (
    ExecutionStatus,
    PipelineExecution,
    StepArtifact,
    StepAttempt,
    StepExecution,
    StepStatus,
)
from slipway.pipelines._tables import (
    pipeline_executions,
    pipeline_step_artifacts,
    pipeline_step_attempts,
    pipeline_step_executions,
    pipeline_versions,
    pipelines,
)
from slipway.store import Prepared
from slipway.store.artifacts import stored_at

MAX_LIST = 1000


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def execution_row(conn: Connection, execution_id: str) -> Row[Any]:
    """The execution joined with its pipeline's name and version number.

    Raises:
        NotFound: naming the id.
    """
    row = conn.execute(_EXECUTION, {"id": execution_id}).first()
    if row is None:
        raise NotFound(f"pipeline execution {execution_id!r} does not exist", field="execution_id")
    return row


_NAMES = (
    select(pipelines.c.name, pipeline_versions.c.version)
    .select_from(pipeline_executions)
    .join(pipeline_versions, pipeline_versions.c.id == pipeline_executions.c.version_id)
    .join(pipelines, pipelines.c.id == pipeline_executions.c.pipeline_id)
    .where(pipeline_executions.c.id == bindparam("id"))
)


def execution_names(conn: Connection, execution_id: str) -> tuple[str, int]:
    """The pipeline's name and the version's number of an execution (what its end event names).

    Raises:
        NotFound: naming the id.
    """
    row = conn.execute(_NAMES, {"id": execution_id}).first()
    if row is None:
        raise NotFound(f"pipeline execution {execution_id!r} does not exist", field="execution_id")
    return row.name, row.version


def _execution_select() -> Any:
    e, v, p = pipeline_executions.c, pipeline_versions.c, pipelines.c
    return (
        select(
            pipeline_executions,
            p.name.label("pipeline_name"),
            v.version.label("version_number"),
            v.definition.label("definition"),
        )
        .join(pipeline_versions, v.id == e.version_id)
        .join(pipelines, p.id == e.pipeline_id)
    )


# Built once: an execution is read whenever anyone looks at it, and building costs more than reading.
_EXECUTION = _execution_select().where(pipeline_executions.c.id == bindparam("id"))
_STEP_ROWS = select(pipeline_step_executions).where(pipeline_step_executions.c.execution_id == bindparam("id"))
_STEP_ARTIFACTS = (
    select(pipeline_step_artifacts)
    .where(pipeline_step_artifacts.c.step_execution_id.in_(bindparam("ids", expanding=True)))
    .order_by(pipeline_step_artifacts.c.step_execution_id, pipeline_step_artifacts.c.direction,
              pipeline_step_artifacts.c.name)
)
_STEP_ATTEMPTS = (
    select(pipeline_step_attempts)
    .where(pipeline_step_attempts.c.step_execution_id.in_(bindparam("ids", expanding=True)))
    .order_by(pipeline_step_attempts.c.step_execution_id, pipeline_step_attempts.c.attempt)
)


def execution_record(row: Row[Any], steps: list[StepExecution] | None = None) -> PipelineExecution:
    started = ms_to_datetime(row.started_at)
    return PipelineExecution(
        id=row.id,
        pipeline=row.pipeline_name,
        version=row.version_number,
        version_id=row.version_id,
        status=ExecutionStatus(row.status),
        parameters=json.loads(row.parameters),
        options=json.loads(row.options),
        reference_execution_id=row.reference_execution_id,
        failure_reason=row.failure_reason,
        stop_requested=bool(row.stop_requested),
        queued=bool(row.queued),
        orchestrator=row.orchestrator,
        lease_expires_at=ms_to_datetime(row.lease_expires_at),
        created_by=row.created_by,
        created_at=ms_to_datetime(row.created_at),
        started_at=started,
        ended_at=ms_to_datetime(row.ended_at),
        steps=steps or [],
    )


def step_records(conn: Connection, execution_row_: Row[Any]) -> list[StepExecution]:
    """The steps of an execution in the definition's order, with their I/O and attempts."""
    execution_id = execution_row_.id
    rows = conn.execute(_STEP_ROWS, {"id": execution_id}).all()
    order, depends = _shape(execution_row_.version_id, execution_row_.definition)
    io: dict[str, dict[str, list[StepArtifact]]] = defaultdict(lambda: defaultdict(list))
    for r in _EXECUTION_ARTIFACTS(conn, {"id": execution_id}):
        io[r[0]][r[1]].append(_artifact(*r[2:]))
    attempts: dict[str, list[StepAttempt]] = defaultdict(list)
    for r in _EXECUTION_ATTEMPTS(conn, {"id": execution_id}):
        attempts[r[0]].append(_attempt(*r[1:]))
    records = [step_record(r, io.get(r.id, {}), attempts.get(r.id, []), depends.get(r.step_name, [])) for r in rows]
    return sorted(records, key=lambda rec: order.get(rec.step_name, len(order)))


# A whole execution's step files and attempts, by the steps' execution (not by a list of step ids):
# read each time anyone looks at an execution, so prepared (rows come as tuples, SQLite's booleans as 0/1).
_a, _t, _s = pipeline_step_artifacts.c, pipeline_step_attempts.c, pipeline_step_executions.c
_EXECUTION_ARTIFACTS = Prepared(
    select(_a.step_execution_id, _a.direction, _a.name, _a.owner_kind, _a.owner_id, _a.path, _a.is_dir, _a.digest)
    .join(pipeline_step_executions, _s.id == _a.step_execution_id)
    .where(_s.execution_id == bindparam("id"))
    .order_by(_a.step_execution_id, _a.direction, _a.name)
)
_EXECUTION_ATTEMPTS = Prepared(
    select(_t.step_execution_id, _t.attempt, _t.status, _t.worker, _t.started_at, _t.ended_at, _t.error_type, _t.error)
    .join(pipeline_step_executions, _s.id == _t.step_execution_id)
    .where(_s.execution_id == bindparam("id"))
    .order_by(_t.step_execution_id, _t.attempt)
)


def _artifact(name: str, owner_kind: str, owner_id: str, path: str, is_dir: Any, digest: str) -> StepArtifact:
    return StepArtifact(
        name=name, owner_kind=owner_kind, owner_id=owner_id, path=path, is_dir=bool(is_dir), digest=digest
    )


def _attempt(
    attempt: int, status: str, worker: str | None, started: int, ended: int | None, error_type: str | None,
    error: str | None,
) -> StepAttempt:
    return StepAttempt(
        attempt=attempt,
        status=StepStatus(status),
        worker=worker,
        started_at=ms_to_datetime(started),
        ended_at=ms_to_datetime(ended),
        error_type=error_type,
        error=error,
    )


@functools.lru_cache(maxsize=64)
def _shape(version_id: str, definition: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """A version's step order and each step's upstream steps: read once per version (a version's
    definition never changes), not on every look at one of its executions."""
    parsed = json.loads(definition)
    return {step["name"]: i for i, step in enumerate(parsed["steps"])}, _depends(parsed)


def _depends(definition: dict[str, Any]) -> dict[str, list[str]]:
    """Each step's upstream steps as the definition gives them (for showing the DAG)."""
    out: dict[str, list[str]] = {}
    for step in definition["steps"]:
        out[step["name"]] = list(dict.fromkeys([*step_names_in_json(step), *step.get("depends_on", ())]))
    for step in definition["steps"]:
        for branch in (*step.get("if_steps", ()), *step.get("else_steps", ())):
            out.setdefault(branch, []).append(step["name"])
    return out


def step_record(
    row: Row[Any], io: dict[str, list[StepArtifact]], attempts: list[StepAttempt], depends_on: list[str]
) -> StepExecution:
    return StepExecution(
        id=row.id,
        execution_id=row.execution_id,
        step_name=row.step_name,
        step_type=row.step_type,
        status=StepStatus(row.status),
        depends_on=depends_on,
        attempts=row.attempts,
        started_at=ms_to_datetime(row.started_at),
        ended_at=ms_to_datetime(row.ended_at),
        cache_key=row.cache_key,
        cached_from=row.cached_from,
        run_id=row.run_id,
        properties=_json(row.properties),
        error_type=row.error_type,
        error=row.error,
        wait_deadline=ms_to_datetime(row.wait_deadline),
        inputs=io.get("input", []),
        outputs=io.get("output", []),
        attempt_history=attempts,
    )


def _artifacts_by_step(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, list[StepArtifact]]]:
    out: dict[str, dict[str, list[StepArtifact]]] = defaultdict(lambda: defaultdict(list))
    for chunk in _chunks(ids):
        for r in conn.execute(_STEP_ARTIFACTS, {"ids": list(chunk)}):
            out[r.step_execution_id][r.direction].append(
                StepArtifact(
                    name=r.name,
                    owner_kind=r.owner_kind,
                    owner_id=r.owner_id,
                    path=r.path,
                    is_dir=r.is_dir,
                    digest=r.digest,
                )
            )
    return out


def _attempts_by_step(conn: Connection, ids: Sequence[str]) -> dict[str, list[StepAttempt]]:
    out: dict[str, list[StepAttempt]] = defaultdict(list)
    for chunk in _chunks(ids):
        for r in conn.execute(_STEP_ATTEMPTS, {"ids": list(chunk)}):
            out[r.step_execution_id].append(
                StepAttempt(
                    attempt=r.attempt,
                    status=StepStatus(r.status),
                    worker=r.worker,
                    started_at=ms_to_datetime(r.started_at),
                    ended_at=ms_to_datetime(r.ended_at),
                    error_type=r.error_type,
                    error=r.error,
                )
            )
    return out


def _chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def get_execution(conn: Connection, execution_id: str, *, with_steps: bool = True) -> PipelineExecution:
    row = execution_row(conn, execution_id)
    return execution_record(row, step_records(conn, row) if with_steps else None)


def list_executions(
    conn: Connection, *, pipeline: str | None, status: str | None, limit: int
) -> list[PipelineExecution]:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}", field="limit")
    query = _execution_select()
    if pipeline is not None:
        query = query.where(pipelines.c.name == pipeline)
    if status is not None:
        if status not in {s.value for s in ExecutionStatus}:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in ExecutionStatus)}, not {status!r}", field="status"
            )
        query = query.where(pipeline_executions.c.status == ExecutionStatus(status).value)
    rows = conn.execute(
        query.order_by(pipeline_executions.c.created_at.desc(), pipeline_executions.c.id.desc()).limit(limit)
    ).all()
    return [execution_record(r) for r in rows]


def step_row(conn: Connection, step_execution_id: str) -> Row[Any]:
    row = conn.execute(
        select(pipeline_step_executions).where(pipeline_step_executions.c.id == step_execution_id)
    ).first()
    if row is None:
        raise NotFound(f"step execution {step_execution_id!r} does not exist", field="step_execution_id")
    return row


def _cached_query() -> Any:
    s, o = pipeline_step_executions.c, pipeline_step_artifacts.c
    gone = exists().where(
        o.step_execution_id == s.id,
        o.direction == "output",
        ~stored_at(o.owner_kind, o.owner_id, o.path),
    )
    return (
        select(s.id, s.properties, s.run_id)
        .where(
            s.cache_key == bindparam("key"),
            s.status == StepStatus.SUCCEEDED.value,
            s.ended_at >= bindparam("not_before"),
            ~gone,
        )
        .order_by(s.ended_at.desc())
        .limit(1)
    )


# Prepared once: looked up for every step about to run, where building costs more than running.
_FIND_CACHED = Prepared(_cached_query())
_STEP_OUTPUTS = select(pipeline_step_artifacts).where(
    pipeline_step_artifacts.c.step_execution_id == bindparam("step_id"), pipeline_step_artifacts.c.direction == "output"
)


def step_outputs(conn: Connection, step_execution_id: str) -> dict[str, ArtifactRef]:
    rows = conn.execute(_STEP_OUTPUTS, {"step_id": step_execution_id}).all()
    return {r.name: ArtifactRef(r.owner_kind, r.owner_id, r.path, r.is_dir, r.digest) for r in rows}


class StepState(NamedTuple):
    """Where one step of an execution stands: what its orchestrator needs to carry it on."""

    id: str
    step_name: str
    status: StepStatus
    attempts: int
    properties: dict[str, Any] | None
    error: str | None
    wait_deadline: int | None  # ms
    outputs: dict[str, ArtifactRef]


_STATES = select(
    pipeline_step_executions.c.id,
    pipeline_step_executions.c.step_name,
    pipeline_step_executions.c.status,
    pipeline_step_executions.c.attempts,
    pipeline_step_executions.c.properties,
    pipeline_step_executions.c.error,
    pipeline_step_executions.c.wait_deadline,
).where(pipeline_step_executions.c.execution_id == bindparam("id"))


def step_states(conn: Connection, execution_id: str) -> list[StepState]:
    """Every step of an execution as it stands, with the outputs of those that completed."""
    rows = conn.execute(_STATES, {"id": execution_id}).all()
    completed = [r.id for r in rows if StepStatus(r.status).completed]
    io = _artifacts_by_step(conn, completed) if completed else {}
    return [
        StepState(r.id, r.step_name, StepStatus(r.status), r.attempts, _json(r.properties), r.error, r.wait_deadline,
                  {o.name: ArtifactRef(o.owner_kind, o.owner_id, o.path, o.is_dir, o.digest)
                   for o in io.get(r.id, {}).get("output", [])})
        for r in rows
    ]


class CachedStep(NamedTuple):
    """A step execution whose result a new one may reuse."""

    id: str
    properties: str | None  # JSON
    run_id: str | None


def find_cached(conn: Connection, key: str, *, not_before: int | None) -> CachedStep | None:
    """The latest step execution that ran with cache key ``key`` and whose outputs are all still stored."""
    row = _FIND_CACHED(conn, {"key": key, "not_before": not_before or 0}).fetchone()
    return None if row is None else CachedStep(*row)


def previous_run(conn: Connection, pipeline_id: str, step_name: str, before_id: str) -> Row[Any] | None:
    """The latest earlier execution of ``step_name`` in the pipeline that actually ran (not cached)."""
    s, e = pipeline_step_executions.c, pipeline_executions.c
    query = (
        select(pipeline_step_executions, e.environment.label("environment"), e.version_id.label("version_id"))
        .join(pipeline_executions, e.id == s.execution_id)
        .where(
            e.pipeline_id == pipeline_id,
            s.step_name == step_name,
            s.id < before_id,
            s.cache_parts.is_not(None),
            s.status.in_([StepStatus.SUCCEEDED.value, StepStatus.FAILED.value]),
        )
        .order_by(s.id.desc())
        .limit(1)
    )
    return conn.execute(query).first()
