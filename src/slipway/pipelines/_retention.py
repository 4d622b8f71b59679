"""Which executions a retention limit lets go, and letting them go.

The rule is the pipelines domain's own, so it lives here and not in the garbage collector: per
pipeline, finished executions beyond the newest ``keep`` expire, except one whose step results a
kept execution reuses from the cache (a cache hit points at the older step, or the kept step's
inputs are the older step's files): deleting it would take files a kept execution stands on.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select

from slipway._kinds import ObjectKind
from slipway.errors import Conflict, NotFound
from slipway.events import record_change
from slipway.pipelines._records import ExecutionStatus, ExpiredExecution
from slipway.pipelines._tables import pipeline_executions, pipeline_step_artifacts, pipeline_step_executions, pipelines
from slipway.store import Database

_TERMINAL = tuple(s.value for s in ExecutionStatus if s.terminal)


def expired_executions(db: Database, keep: int) -> list[ExpiredExecution]:
    """The finished executions past the newest ``keep`` of each pipeline that no kept one stands on."""
    e, s, a = pipeline_executions.c, pipeline_step_executions.c, pipeline_step_artifacts.c
    with db.read() as conn:
        ranked = conn.execute(
            select(e.id, pipelines.c.name, e.status)
            .join(pipelines, pipelines.c.id == e.pipeline_id)
            .order_by(pipelines.c.name, e.created_at.desc(), e.id.desc())
        ).all()
        seen: dict[str, int] = defaultdict(int)
        old = []
        for row in ranked:
            seen[row.name] += 1
            if seen[row.name] > keep and row.status in _TERMINAL:
                old.append((row.id, row.name))
        if not old:
            return []
        old_ids = [i for i, _ in old]
        steps = conn.execute(select(s.id, s.execution_id).where(s.execution_id.in_(old_ids))).all()
        step_ids = [st.id for st in steps]
        reused = set(conn.execute(
            select(s.cached_from).where(s.cached_from.in_(step_ids), s.execution_id.not_in(old_ids))
        ).scalars())
        reused |= set(conn.execute(
            select(a.owner_id).join(pipeline_step_executions, s.id == a.step_execution_id)
            .where(a.owner_kind == ObjectKind.STEP_EXECUTION, a.owner_id.in_(step_ids), s.execution_id.not_in(old_ids))
        ).scalars())
    owner_of = {st.id: st.execution_id for st in steps}
    pinned = {owner_of[i] for i in reused if i in owner_of}
    steps_of: dict[str, list[str]] = defaultdict(list)
    for st in steps:
        steps_of[st.execution_id].append(st.id)
    return [_expired(i, name, steps_of[i]) for i, name in old if i not in pinned]


def existing_executions(db: Database, ids: set[str]) -> set[str]:
    """Those of ``ids`` that are executions still in the store."""
    found: set[str] = set()
    e = pipeline_executions.c
    chunk = sorted(ids)
    with db.read() as conn:
        for start in range(0, len(chunk), 500):  # bound the IN list
            found |= set(conn.execute(select(e.id).where(e.id.in_(chunk[start:start + 500]))).scalars())
    return found


def delete_execution(db: Database, execution_id: str, reason: str) -> ExpiredExecution:
    """Delete a finished execution's records (its steps go with them); return whose files it kept.

    Raises:
        NotFound: for an unknown execution.
        Conflict: for one that has not finished.
    """
    e, s = pipeline_executions.c, pipeline_step_executions.c
    with db.write() as conn:
        row = conn.execute(select(e.id, e.status, pipelines.c.name).join(pipelines, pipelines.c.id == e.pipeline_id)
                           .where(e.id == execution_id)).first()
        if row is None:
            raise NotFound(f"pipeline execution {execution_id!r} does not exist", field="execution_id")
        if row.status not in _TERMINAL:
            raise Conflict(f"pipeline execution {execution_id!r} is {row.status}: only a finished one can be deleted",
                           field="execution_id")
        steps = conn.execute(select(s.id).where(s.execution_id == execution_id)).scalars().all()
        gone = _expired(row.id, row.name, list(steps))
        conn.execute(delete(pipeline_executions).where(e.id == execution_id))
        record_change(conn, action="pipeline_execution.delete", object_kind=ObjectKind.PIPELINE_EXECUTION,
                      object_id=execution_id, details={"execution": gone.name, "by": reason})
    return gone


def _expired(execution_id: str, pipeline: str, step_ids: list[str]) -> ExpiredExecution:
    owners: list[tuple[str, str]] = [(ObjectKind.PIPELINE_EXECUTION, execution_id)]
    owners += [(ObjectKind.STEP_EXECUTION, i) for i in step_ids]
    return ExpiredExecution(id=execution_id, pipeline=pipeline, owners=owners)
