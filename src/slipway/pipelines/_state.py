"""Execution state in the metadata DB: every transition of an execution and its steps, as it happens.

Each method is one short write transaction, so a process killed at any point leaves the store at
the last transition it made; ``resume`` starts from there. The orchestrator makes each scheduling
round's transitions in one transaction (:meth:`ExecutionStore.batch`): the steps that ended and
the steps that start next are recorded together, before any of the started steps is handed to
an executor. What other processes ask of an
execution (stop, signal, resume) is in :mod:`slipway.pipelines._requests`. Step transitions are state, not audited
changes (an execution of a thousand steps would flood the audit trail): the execution's start,
stop, resume and end are audited, and its end publishes ``pipeline_execution.succeeded``,
``.failed`` or ``.stopped``.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._principal import current_principal
from slipway._time import now_ms
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.pipelines._artifacts import ArtifactRef
from slipway.pipelines._leases import Lease, renew
from slipway.pipelines._queries import execution_names, find_cached, step_outputs
from slipway.pipelines._records import ExecutionStatus, StepStatus
from slipway.pipelines._tables import (
    pipeline_executions,
    pipeline_step_artifacts,
    pipeline_step_attempts,
    pipeline_step_executions,
)
from slipway.store import Database, Prepared


@dataclass
class NewStep:
    """A step row written when an execution is created: Pending, or prefilled from a reference."""

    name: str
    type: str
    status: StepStatus = StepStatus.PENDING
    cached_from: str | None = None
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    properties: dict[str, Any] | None = None
    run_id: str | None = None
    error: str | None = None


@dataclass
class Finished:
    """What a finished (or reused) step leaves behind."""

    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    inputs: dict[str, ArtifactRef] = field(default_factory=dict)
    properties: dict[str, Any] | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Control:
    """What the orchestrator learns at each heartbeat: a stop request, and signals for wait steps."""

    stop_requested: bool
    signals: dict[str, dict[str, Any]]


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@functools.lru_cache(maxsize=64)
def _updater(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Prepared:
    """``UPDATE table SET columns WHERE keys match``, prepared once per shape: steps change state at
    a rate where building and binding a statement costs more than running it."""
    condition = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
    return Prepared(update(table).where(condition).values({c: bindparam(f"v_{c}") for c in columns}))


def _set(conn: Connection, table: Table, where: Mapping[str, Any], **values: Any) -> Any:
    statement = _updater(table, tuple(where), tuple(values))
    return statement(conn, {**{f"k_{k}": v for k, v in where.items()}, **{f"v_{c}": v for c, v in values.items()}})


def _set_step(conn: Connection, step_id: str, **values: Any) -> None:
    _set(conn, pipeline_step_executions, {"id": step_id}, **values)


_OPEN = [status.value for status in StepStatus if not status.terminal]
_INSERT_ATTEMPT = Prepared(
    insert(pipeline_step_attempts).values(
        {c: bindparam(c) for c in ("step_execution_id", "attempt", "status", "started_at")}
    )
)
_INSERT_IO = insert(pipeline_step_artifacts)
_STOP_REQUESTED = select(pipeline_executions.c.stop_requested).where(pipeline_executions.c.id == bindparam("id"))
_SIGNALS = select(pipeline_step_executions.c.step_name, pipeline_step_executions.c.signal).where(
    pipeline_step_executions.c.execution_id == bindparam("id"),
    pipeline_step_executions.c.signal.is_not(None),
    pipeline_step_executions.c.status.in_([StepStatus.PENDING.value, StepStatus.WAITING.value]),
)


class ExecutionStore:
    """The writes behind an execution's life; reads are in :mod:`slipway.pipelines._queries`.

    Args:
        lease: the orchestrator's lease (:mod:`slipway.pipelines._leases`): each write renews it
            in its own transaction and is refused with ``LeaseLost`` once another process holds
            the execution. None for writes made from outside an orchestrator.
        hold: keep one database connection from write to write until :meth:`release` (for one
            thread's back-to-back transactions: an orchestrator's rounds), rather than taking
            one from the pool for each.
    """

    def __init__(self, db: Database, lease: Lease | None = None, *, hold: bool = False) -> None:
        self._db = db
        self._lease = lease
        self._hold = hold
        self._held: Connection | None = None
        self._queued: list[tuple[Callable[[Connection], Any], Callable[[Any], None] | None]] | None = None

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._hold and self._held is None:
            self._held = self._db.writer()
        with self._db.write(self._held) as conn:
            if self._lease is not None:
                renew(conn, self._lease)
            yield conn

    def release(self) -> None:
        """Give back the connection a ``hold=True`` store keeps between its writes (taken again on
        the next write): its owner calls this before it waits, and when it is done."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the step transitions of the block in one transaction, as the block ends.

        Inside the block, the step methods (``begin_step``, ``step_succeeded``, ``step_failed``,
        ``step_decided``, ``step_waiting``, ``steps_ended``) queue their writes in call order;
        on leaving it they are made in one transaction (renewing the lease once), and then the
        ``then`` callbacks get their outcomes. One round of the orchestrator costs one commit
        however many steps end and start in it. If the block raises, nothing queued is written.
        For the one thread that owns this store (an orchestrator's); not reentrant.
        """
        self._queued = []
        try:
            yield
            queued = self._queued
        finally:
            self._queued = None
        if not queued:
            return
        with self._write() as conn:
            outcomes = [op(conn) for op, _ in queued]
        for (_, then), outcome in zip(queued, outcomes, strict=True):
            if then is not None:
                then(outcome)

    def _apply(self, op: Callable[[Connection], Any], then: Callable[[Any], None] | None = None) -> None:
        """Run ``op`` in a transaction of its own, or queue it in the open batch."""
        if self._queued is not None:
            self._queued.append((op, then))
            return
        with self._write() as conn:
            outcome = op(conn)
        if then is not None:
            then(outcome)

    # -- creating -------------------------------------------------------------------

    def create(
        self,
        *,
        pipeline_id: str,
        version_id: str,
        parameters: Mapping[str, Any],
        options: Mapping[str, Any],
        environment: Mapping[str, str],
        reference_id: str | None,
        steps: Sequence[NewStep],
        queued: bool = False,
    ) -> str:
        execution_id = new_id()
        now = now_ms()
        who = current_principal().name
        with self._db.write() as conn:
            conn.execute(
                insert(pipeline_executions).values(
                    id=execution_id,
                    pipeline_id=pipeline_id,
                    version_id=version_id,
                    status=ExecutionStatus.PENDING.value,
                    parameters=json.dumps(parameters),
                    options=json.dumps(options),
                    environment=json.dumps(environment),
                    reference_execution_id=reference_id,
                    stop_requested=False,
                    queued=queued,
                    created_by=who,
                    created_at=now,
                )
            )
            rows, io, contains = [], [], []
            for step in steps:
                step_id = new_id()
                contains.append((NodeRef(ObjectKind.PIPELINE_EXECUTION, execution_id),
                                 NodeRef(ObjectKind.STEP_EXECUTION, step_id), "contains"))
                done = step.status is not StepStatus.PENDING
                rows.append(
                    {
                        "id": step_id,
                        "execution_id": execution_id,
                        "step_name": step.name,
                        "step_type": step.type,
                        "status": step.status.value,
                        "attempts": 0,
                        "cached_from": step.cached_from,
                        "properties": _dump(step.properties),
                        "run_id": step.run_id,
                        "error": step.error,
                        "started_at": now if done else None,
                        "ended_at": now if done else None,
                    }
                )
                io += _io_rows(step_id, "output", step.outputs)
            conn.execute(insert(pipeline_step_executions), rows)
            if io:
                conn.execute(insert(pipeline_step_artifacts), io)
            record_edges(conn, contains)
            record_change(
                conn,
                action="pipeline_execution.create",
                object_kind=ObjectKind.PIPELINE_EXECUTION,
                object_id=execution_id,
                details={
                    "version_id": version_id,
                    "parameters": dict(parameters),
                    "reference_execution_id": reference_id,
                },
            )
        return execution_id

    # -- the orchestrator's loop -----------------------------------------------------------------

    def heartbeat(self, execution_id: str) -> Control:
        """Say the orchestrator is alive; learn of stop requests and signals for waiting steps."""
        with self._write() as conn:  # with a lease, writing renews it
            if self._lease is None:
                _set(conn, pipeline_executions, {"id": execution_id}, heartbeat_at=now_ms())
            stop = conn.execute(_STOP_REQUESTED, {"id": execution_id}).scalar_one()
            signals = conn.execute(_SIGNALS, {"id": execution_id}).all()
        return Control(bool(stop), {r.step_name: json.loads(r.signal) for r in signals})

    def begin_step(
        self,
        step_id: str,
        attempt: int,
        *,
        cache_key: str,
        cache_parts: Mapping[str, Any],
        inputs: Mapping[str, ArtifactRef],
        reuse_after: int | None,
        then: Callable[[Finished | None], None],
    ) -> None:
        """Serve a step from the cache, or mark it Running: one transaction, whichever it is.

        Args:
            reuse_after: None runs the step; otherwise an earlier result with the same cache key
                that ended at or after this time (ms, 0 for any) and whose outputs are all still
                stored is reused.
            then: called once the write is made (at once, or as the batch ends) with what was
                reused, or None if the step is now Running.
        """
        now = now_ms()
        parts = _dump(cache_parts)

        def write(conn: Connection) -> Finished | None:
            hit = None if reuse_after is None else find_cached(conn, cache_key, not_before=reuse_after)
            if hit is not None:
                reused = Finished(
                    outputs=step_outputs(conn, hit.id),
                    inputs=dict(inputs),
                    properties=None if hit.properties is None else json.loads(hit.properties),
                    run_id=hit.run_id,
                )
                _set_step(
                    conn,
                    step_id,
                    status=StepStatus.CACHED.value,
                    started_at=now,
                    ended_at=now,
                    cached_from=hit.id,
                    cache_key=cache_key,
                    cache_parts=parts,
                    properties=_dump(reused.properties),
                    run_id=reused.run_id,
                )
                self._record_io(conn, step_id, reused)
                return reused
            _set_step(
                conn,
                step_id,
                status=StepStatus.RUNNING.value,
                attempts=attempt,
                started_at=now,
                ended_at=None,
                cache_key=cache_key,
                cache_parts=parts,
                error_type=None,
                error=None,
            )
            _INSERT_ATTEMPT(
                conn,
                {
                    "step_execution_id": step_id,
                    "attempt": attempt,
                    "status": StepStatus.RUNNING.value,
                    "started_at": now,
                },
            )
            return None

        self._apply(write, then)

    def step_succeeded(self, step_id: str, attempt: int, result: Finished, *, worker: str | None) -> None:
        now = now_ms()

        def write(conn: Connection) -> None:
            self._end_attempt(conn, step_id, attempt, StepStatus.SUCCEEDED, now, worker)
            _set_step(
                conn,
                step_id,
                status=StepStatus.SUCCEEDED.value,
                ended_at=now,
                properties=_dump(result.properties),
                run_id=result.run_id,
            )
            self._record_io(conn, step_id, result)

        self._apply(write)

    def step_failed(
        self, step_id: str, attempt: int, *, error_type: str, error: str, retrying: bool, worker: str | None
    ) -> None:
        """Record a failed attempt; the step goes back to Pending when it will be tried again."""
        now = now_ms()

        def write(conn: Connection) -> None:
            self._end_attempt(conn, step_id, attempt, StepStatus.FAILED, now, worker, error_type, error)
            _set_step(
                conn,
                step_id,
                status=(StepStatus.PENDING if retrying else StepStatus.FAILED).value,
                ended_at=None if retrying else now,
                error_type=error_type,
                error=error,
            )

        self._apply(write)

    def step_decided(
        self,
        step_id: str,
        status: StepStatus,
        *,
        properties: dict[str, Any] | None = None,
        error: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """A control step's outcome, decided at once by the orchestrator (start and end together)."""
        now = now_ms()
        self._apply(
            lambda conn: _set_step(
                conn,
                step_id,
                status=status.value,
                started_at=now,
                ended_at=now,
                properties=_dump(properties),
                error=error,
                error_type=error_type,
            )
        )

    def step_waiting(self, step_id: str, deadline: int | None) -> None:
        now = now_ms()
        self._apply(
            lambda conn: _set_step(
                conn, step_id, status=StepStatus.WAITING.value, started_at=now, wait_deadline=deadline
            )
        )

    def steps_ended(self, step_ids: Iterable[str], status: StepStatus, reason: str | None = None) -> None:
        """Mark steps Skipped or Stopped (with why); their running attempts end Stopped."""
        ids = list(step_ids)
        if not ids:
            return
        now = now_ms()

        def write(conn: Connection) -> None:
            s, t = pipeline_step_executions.c, pipeline_step_attempts.c
            conn.execute(
                update(pipeline_step_executions)
                .where(s.id.in_(ids))
                .values(status=status.value, ended_at=now, error=reason)
            )
            conn.execute(
                update(pipeline_step_attempts)
                .where(t.step_execution_id.in_(ids), t.status == StepStatus.RUNNING.value)
                .values(status=StepStatus.STOPPED.value, ended_at=now, error=reason)
            )

        self._apply(write)

    def open_steps_ended(self, execution_id: str, status: StepStatus, reason: str) -> None:
        """Mark every step of the execution that has not ended, by the store's word, ``status``."""
        s = pipeline_step_executions.c
        with self._db.read() as conn:
            ids = conn.execute(
                select(s.id).where(s.execution_id == execution_id, s.status.in_(_OPEN))
            ).scalars().all()
        self.steps_ended(ids, status, reason)

    def finish(self, execution_id: str, status: ExecutionStatus, reason: str | None = None) -> None:
        """End the execution and publish ``pipeline_execution.<status>`` in the same transaction."""
        with self._write() as conn:
            pipeline, version = execution_names(conn, execution_id)
            _set(
                conn, pipeline_executions, {"id": execution_id},
                status=status.value, ended_at=now_ms(), failure_reason=reason, orchestrator=None, lease_expires_at=None,
            )
            record_change(
                conn,
                action=f"pipeline_execution.{status.value.lower()}",
                object_kind=ObjectKind.PIPELINE_EXECUTION,
                object_id=execution_id,
                event_type=f"pipeline_execution.{status.value.lower()}",
                payload={"pipeline": pipeline, "version": version, "failure_reason": reason},
            )

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _end_attempt(
        conn: Connection,
        step_id: str,
        attempt: int,
        status: StepStatus,
        now: int,
        worker: str | None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> None:
        _set(
            conn,
            pipeline_step_attempts,
            {"step_execution_id": step_id, "attempt": attempt},
            status=status.value,
            ended_at=now,
            worker=worker,
            error_type=error_type,
            error=error,
        )

    @staticmethod
    def _record_io(conn: Connection, step_id: str, result: Finished) -> None:
        rows = _io_rows(step_id, "input", result.inputs) + _io_rows(step_id, "output", result.outputs)
        if rows:
            conn.execute(_INSERT_IO, rows)
        step = NodeRef(ObjectKind.STEP_EXECUTION, step_id)
        edges = [(ref.node(name), step, "consumed") for name, ref in result.inputs.items()]
        edges += [(step, ref.node(name), "produced") for name, ref in result.outputs.items()]
        if result.run_id is not None:  # the step's tracked run (a training's) made its outputs too
            run = NodeRef(ObjectKind.RUN, result.run_id)
            edges.append((step, run, "produced"))
            edges += [(run, ref.node(name), "produced") for name, ref in result.outputs.items()]
        record_edges(conn, edges)


def _io_rows(step_id: str, direction: str, refs: Mapping[str, ArtifactRef]) -> list[dict[str, Any]]:
    return [
        {
            "step_execution_id": step_id,
            "direction": direction,
            "name": name,
            "owner_kind": ref.owner_kind,
            "owner_id": ref.owner_id,
            "path": ref.path,
            "is_dir": ref.is_dir,
            "digest": ref.digest,
        }
        for name, ref in refs.items()
    ]
