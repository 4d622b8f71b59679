"""Who orchestrates an execution: a lease in its row, claimed by compare-and-set, renewed as it runs.

An orchestrator holds an execution while its lease runs: ``orchestrator`` names the holder,
``lease_expires_at`` says until when, and ``lease_token`` counts the claims. A claim is one
``UPDATE ... WHERE`` the lease is free (never taken, or expired) and the token is the one just
read, so of several processes claiming at once exactly one matches the row, on SQLite (one
writer at a time) and on PostgreSQL (the second UPDATE waits for the first and re-reads the row)
alike. Every write the holder makes renews the lease in the same transaction, matched on its
token (:func:`renew`): once another process has claimed the execution, the old holder's writes
are refused with :class:`LeaseLost` and it stops, so at most one orchestrator changes an
execution at any moment.

An execution started through a server is *queued*: any ``slipway server`` or ``slipway worker``
with the same settings may claim it (:func:`claimable`). When its holder dies, the lease runs out
and the next claim takes the execution over from where the store says it stood: the steps that
were running go back to Pending (their attempt ends Stopped, naming both orchestrators) and
finished steps are not run again. Every claim is an audited change of the execution
(``pipeline_execution.claim``, with ``previous`` naming the holder it took over from), so its
history shows each hand-over. An execution started embedded (``pipeline.run()``) is claimed by
the process that started it alone: when that process dies it becomes Interrupted, for
``resume``, as its code may live only in the caller's script.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, or_, select, update

from slipway._kinds import ObjectKind
from slipway._time import now_ms
from slipway.events import record_change
from slipway.pipelines._records import ExecutionStatus, StepStatus
from slipway.pipelines._tables import pipeline_executions, pipeline_step_attempts, pipeline_step_executions
from slipway.store import Database, Prepared

DEFAULT_LEASE_SECONDS = 30.0
_log = logging.getLogger(__name__)
_CLAIMABLE = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)


class LeaseLost(Exception):
    """The orchestrator no longer holds the execution: another process claimed it, or it ended."""


@dataclass(frozen=True)
class Lease:
    """A claim on one execution: who holds it, which claim it is, and how long each renewal lasts."""

    execution_id: str
    holder: str
    token: int
    duration_ms: int


_e = pipeline_executions.c
_RENEW = Prepared(  # in every transaction of an orchestrator's: run through the driver
    update(pipeline_executions)
    .where(
        _e.id == bindparam("k_id"),
        _e.lease_token == bindparam("k_token"),
        _e.orchestrator == bindparam("k_holder"),
    )
    .values(heartbeat_at=bindparam("v_now"), lease_expires_at=bindparam("v_until"))
)


def renew(conn: Connection, lease: Lease) -> None:
    """Extend ``lease`` in the caller's transaction, or refuse the transaction if it was lost.

    Raises:
        LeaseLost: if another claim came since (the caller's transaction must roll back).
    """
    now = now_ms()
    result = _RENEW(
        conn,
        {
            "k_id": lease.execution_id,
            "k_token": lease.token,
            "k_holder": lease.holder,
            "v_now": now,
            "v_until": now + lease.duration_ms,
        },
    )
    if result.rowcount != 1:
        raise LeaseLost(f"pipeline execution {lease.execution_id} is no longer held by {lease.holder}")


class LeaseKeeper:
    """Renews a lease from a thread of its own, a third of its duration apart, until stopped or lost.

    The orchestrator's writes renew the lease too, but its loop may be busy for a while (loading
    the pipeline, resolving a step's inputs): the keeper holds the lease meanwhile, as long as the
    process lives. A lost lease ends the keeper; the orchestrator learns of it at its next write.
    """

    def __init__(self, db: Database, lease: Lease) -> None:
        self._db = db
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"slipway-lease-{lease.execution_id}", daemon=True
        )

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _renew(self) -> None:
        interval = max(self.lease.duration_ms / 3000, 0.05)
        while not self._stop.wait(interval):
            try:
                with self._db.write() as conn:
                    renew(conn, self.lease)
            except LeaseLost:
                return
            except Exception:  # the database away for a moment: try again before the lease runs out
                _log.warning("could not renew the lease of pipeline execution %s", self.lease.execution_id,
                             exc_info=True)


def _free(now: Any) -> ColumnElement[bool]:
    return or_(_e.lease_expires_at.is_(None), _e.lease_expires_at < now)


# Built once: every execution started is claimed, and building costs more than running.
_CLAIM_READ = select(_e.status, _e.queued, _e.orchestrator, _e.lease_token, _e.lease_expires_at, _e.started_at).where(
    _e.id == bindparam("id")
)
_CLAIM = (
    update(pipeline_executions)
    .where(
        _e.id == bindparam("k_id"),
        _e.lease_token == bindparam("k_token"),
        _e.status == bindparam("k_status"),
        _free(bindparam("k_now")),
    )
    .values(
        status=ExecutionStatus.RUNNING.value,
        orchestrator=bindparam("v_holder"),
        lease_token=bindparam("v_token"),
        lease_expires_at=bindparam("v_until"),
        heartbeat_at=bindparam("v_now"),
        started_at=bindparam("v_started"),
        ended_at=None,
    )
)


def claimable(db: Database, limit: int) -> list[str]:
    """Queued executions nobody holds (new, resumed, or whose holder's lease ran out), oldest first."""
    now = now_ms()
    query = (
        select(_e.id)
        .where(
            _e.queued.is_(True),
            _e.status.in_(_CLAIMABLE),
            _free(now),
            # A pending execution asked to stop is ended by whoever asked: nothing to orchestrate.
            or_(_e.status == ExecutionStatus.RUNNING.value, _e.stop_requested.is_(False)),
        )
        .order_by(_e.created_at, _e.id)
        .limit(limit)
    )
    with db.read() as conn:
        return list(conn.execute(query).scalars())


def claim(db: Database, execution_id: str, holder: str, duration_ms: int) -> Lease | None:
    """Make ``holder`` the execution's orchestrator if nobody holds it; None if it is taken or over.

    A Pending execution (new, or prepared to resume) starts Running. A Running one whose lease
    ran out is taken over, if it is queued: its open steps go back to Pending, their attempts
    end Stopped. An embedded execution that is Running is never taken over (it becomes
    Interrupted when its process dies).
    """
    now = now_ms()
    with db.write() as conn:
        row = conn.execute(_CLAIM_READ, {"id": execution_id}).first()
        if row is None or row.status not in _CLAIMABLE:
            return None
        if row.lease_expires_at is not None and row.lease_expires_at >= now:
            return None
        takeover = row.status == ExecutionStatus.RUNNING.value
        if takeover and not row.queued:
            return None
        token = row.lease_token + 1
        result = conn.execute(
            _CLAIM,
            {
                "k_id": execution_id,
                "k_token": row.lease_token,
                "k_status": row.status,
                "k_now": now,
                "v_holder": holder,
                "v_token": token,
                "v_until": now + duration_ms,
                "v_now": now,
                "v_started": row.started_at if takeover else now,
            },
        )
        if result.rowcount != 1:
            return None
        details: dict[str, object] = {"orchestrator": holder, "lease": token}
        if takeover:
            details["previous"] = row.orchestrator
            _reopen_steps(conn, execution_id, now, f"its orchestrator ({row.orchestrator}) lost its lease; "
                                                   f"{holder} took the execution over")
        record_change(
            conn,
            action="pipeline_execution.claim",
            object_kind=ObjectKind.PIPELINE_EXECUTION,
            object_id=execution_id,
            details=details,
        )
    return Lease(execution_id, holder, token, duration_ms)


def _reopen_steps(conn: Connection, execution_id: str, now: int, reason: str) -> None:
    """The steps a lost orchestrator left running or waiting go back to Pending, to run again."""
    s, t = pipeline_step_executions.c, pipeline_step_attempts.c
    open_steps = select(s.id).where(
        s.execution_id == execution_id, s.status.in_([StepStatus.RUNNING.value, StepStatus.WAITING.value])
    )
    conn.execute(
        update(pipeline_step_attempts)
        .where(t.step_execution_id.in_(open_steps), t.status == StepStatus.RUNNING.value)
        .values(status=StepStatus.STOPPED.value, ended_at=now, error=reason)
    )
    conn.execute(
        update(pipeline_step_executions)
        .where(s.execution_id == execution_id, s.status.in_([StepStatus.RUNNING.value, StepStatus.WAITING.value]))
        .values(status=StepStatus.PENDING.value, ended_at=None)
    )


def seize(conn: Connection, execution_id: str, holder: str, duration_ms: int) -> bool:
    """Take a queued or unheld execution away from any orchestrator, in the caller's transaction,
    so the caller may end it itself (a stop); False if a live orchestrator holds it."""
    now = now_ms()
    result = conn.execute(
        update(pipeline_executions)
        .where(_e.id == execution_id, _free(now))
        .values(
            orchestrator=holder,
            lease_token=_e.lease_token + 1,
            lease_expires_at=now + duration_ms,
        )
    )
    return bool(result.rowcount == 1)

