"""What other processes ask of an execution: stop it, signal a wait step, resume it, and who died.

The orchestrator of an execution may be another process, or dead; these requests go through the
store, where the orchestrator picks them up at its next heartbeat (stop, signal), or which they
change directly when nobody orchestrates the execution (interrupted, resumed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from slipway._kinds import ObjectKind
from slipway.errors import Conflict, NotFound
from slipway.events import record_change
from slipway.pipelines._leases import seize
from slipway.pipelines._liveness import is_alive, orchestrator_id
from slipway.pipelines._queries import execution_row
from slipway.pipelines._records import ExecutionStatus, StepStatus
from slipway.pipelines._tables import pipeline_executions, pipeline_step_attempts, pipeline_step_executions
from slipway.store import Database

OPEN_STEP = (StepStatus.PENDING.value, StepStatus.RUNNING.value, StepStatus.WAITING.value)
_STOPPER_LEASE_MS = 60_000  # ample for a stop to end the execution it took


class ExecutionRequests:
    """Stop, signal, resume and interruption: changes to an execution made from outside its orchestrator."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def prepare_resume(self, execution_id: str) -> None:
        """Put an interrupted or stopped execution back to Pending, and its unfinished steps with it.

        Finished steps (succeeded, cached, skipped, failed) keep their outcome.

        Raises:
            Conflict: if the execution is not Interrupted or Stopped.
        """
        with self._db.write() as conn:
            row = execution_row(conn, execution_id)
            status = ExecutionStatus(row.status)
            if not status.resumable:
                raise Conflict(
                    f"pipeline execution {execution_id} is {status.value}: only an Interrupted or "
                    "Stopped execution can be resumed",
                    field="status",
                )
            s = pipeline_step_executions.c
            conn.execute(
                update(pipeline_step_executions)
                .where(s.execution_id == execution_id, s.status.in_([*OPEN_STEP, StepStatus.STOPPED.value]))
                .values(status=StepStatus.PENDING.value, ended_at=None)
            )
            conn.execute(
                update(pipeline_executions)
                .where(pipeline_executions.c.id == execution_id)
                .values(
                    status=ExecutionStatus.PENDING.value, stop_requested=False, failure_reason=None, orchestrator=None,
                    lease_expires_at=None,
                )
            )
            record_change(
                conn,
                action="pipeline_execution.resume",
                object_kind=ObjectKind.PIPELINE_EXECUTION,
                object_id=execution_id,
                details={"from": status.value},
            )

    def request_stop(self, execution_id: str) -> bool:
        """Ask the orchestrator to stop; True when the caller must end it itself (nobody runs it).

        When no orchestrator holds the execution (pending, or its holder's lease ran out), the
        caller takes its lease in the same transaction, so no worker claims it meanwhile.

        Raises:
            Conflict: if the execution has already ended.
        """
        with self._db.write() as conn:
            row = execution_row(conn, execution_id)
            status = ExecutionStatus(row.status)
            if status.terminal:
                raise Conflict(f"pipeline execution {execution_id} is already {status.value}", field="status")
            conn.execute(
                update(pipeline_executions).where(pipeline_executions.c.id == execution_id).values(stop_requested=True)
            )
            record_change(
                conn, action="pipeline_execution.stop", object_kind=ObjectKind.PIPELINE_EXECUTION,
                object_id=execution_id,
            )
            if status is ExecutionStatus.INTERRUPTED:
                return True
            return seize(conn, execution_id, orchestrator_id(), _STOPPER_LEASE_MS)

    def signal(self, execution_id: str, step_name: str, payload: Mapping[str, Any]) -> None:
        """Leave a signal for a wait step; its orchestrator picks it up at the next heartbeat.

        Raises:
            NotFound: if the execution has no such step.
            Conflict: if the step is not a wait step, or has already finished.
        """
        with self._db.write() as conn:
            execution_row(conn, execution_id)
            s = pipeline_step_executions.c
            row = conn.execute(
                select(s.id, s.status, s.step_type).where(s.execution_id == execution_id, s.step_name == step_name)
            ).first()
            if row is None:
                raise NotFound(f"pipeline execution {execution_id} has no step {step_name!r}", field="step")
            if row.step_type != "Wait":
                raise Conflict(
                    f"step {step_name!r} is a {row.step_type} step; only Wait steps take signals", field="step"
                )
            if row.status not in OPEN_STEP:
                raise Conflict(f"step {step_name!r} is {row.status}; it takes no more signals", field="step")
            conn.execute(
                update(pipeline_step_executions).where(s.id == row.id).values(signal=json.dumps(dict(payload)))
            )
            record_change(
                conn,
                action="pipeline_execution.signal",
                object_kind=ObjectKind.PIPELINE_EXECUTION,
                object_id=execution_id,
                details={"step": step_name, "payload": dict(payload)},
            )

    def mark_interrupted(self, now: int) -> list[str]:
        """Find Running embedded executions whose orchestrator died and mark them Interrupted; return their ids.

        Queued executions are left to the next worker to claim them (see _leases.py). Their
        running and waiting steps become Stopped: whatever they were doing died with the
        orchestrator's workers, and ``resume`` runs them again.
        """
        e = pipeline_executions.c
        with self._db.read() as conn:
            running = conn.execute(
                select(e.id, e.orchestrator, e.heartbeat_at).where(
                    e.status == ExecutionStatus.RUNNING.value, e.queued.is_(False)
                )
            ).all()
        dead = [r for r in running if not is_alive(r.orchestrator, r.heartbeat_at, now)]
        marked = []
        for row in dead:
            with self._db.write() as conn:
                result = conn.execute(
                    update(pipeline_executions)
                    .where(
                        e.id == row.id,
                        e.status == ExecutionStatus.RUNNING.value,
                        e.orchestrator == row.orchestrator,
                    )
                    .values(
                        status=ExecutionStatus.INTERRUPTED.value,
                        orchestrator=None,
                        failure_reason=f"its orchestrator ({row.orchestrator}) stopped without finishing it",
                    )
                )
                if result.rowcount != 1:
                    continue
                s = pipeline_step_executions.c
                reason = "the orchestrator died while the step ran"
                conn.execute(
                    update(pipeline_step_executions)
                    .where(
                        s.execution_id == row.id,
                        s.status.in_([StepStatus.RUNNING.value, StepStatus.WAITING.value]),
                    )
                    .values(status=StepStatus.STOPPED.value, ended_at=now, error=reason)
                )
                t = pipeline_step_attempts.c
                running_steps = select(s.id).where(s.execution_id == row.id)
                conn.execute(
                    update(pipeline_step_attempts)
                    .where(
                        t.step_execution_id.in_(running_steps),
                        t.status == StepStatus.RUNNING.value,
                    )
                    .values(status=StepStatus.STOPPED.value, ended_at=now, error=reason)
                )
                record_change(
                    conn,
                    action="pipeline_execution.interrupted",
                    object_kind=ObjectKind.PIPELINE_EXECUTION,
                    object_id=row.id,
                    details={"orchestrator": row.orchestrator},
                )
            marked.append(row.id)
        return marked
