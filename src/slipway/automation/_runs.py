"""Action runs: recorded before they run, claimed by one process, finished once in effect.

A cause (a rule's event, a schedule's occurrence, a hook's call) first becomes a ``Pending`` row
keyed by the cause, in a transaction of its own, so a crash afterwards loses nothing and a
second sighting of the cause adds nothing. A process then claims the row with a compare-and-set
(``Running``, its name, a lease), calls the action, and records the outcome. If the process dies
in between, the row stays ``Running``: once its lease runs out (at once if the claimer was a
process of this host that no longer exists) another dispatch claims it again, and the action,
told an earlier attempt began, looks for that attempt's effect before acting (see _actions.py).
A failure that may pass (a receiver down, a deployment in progress) is retried with a growing
delay, :data:`MAX_ATTEMPTS` times in all.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._principal import Principal, acting_as
from slipway._time import ms_to_datetime, now_ms
from slipway.automation._actions import Attempt, Services, action_from_dict
from slipway.automation._records import ActionRun, RunStatus
from slipway.automation._tables import automation_runs
from slipway.errors import InvalidInput, NotFound, PermissionDenied, SlipwayError
from slipway.events import record_change
from slipway.security import current_user
from slipway.store import Database, insert_ignore

MAX_ATTEMPTS = 3
RETRY_DELAY_MS = 30_000  # doubled after each failed attempt
DEFAULT_LEASE_SECONDS = 600.0
# Errors no retry can mend: the action is wrong, or names what does not exist.
_FINAL = (InvalidInput, NotFound, PermissionDenied)

_log = logging.getLogger(__name__)


def worker_name() -> str:
    """This process, as a claim names it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_run(
    conn: Connection, *, key: str, source: tuple[str, Row[Any]], event: Mapping[str, Any], event_id: str | None = None,
) -> bool:
    """Record a Pending run of ``source``'s action (a schedule, rule or hook row) for a cause, unless
    one exists; return whether it was new. The run acts as the source's creator (see :meth:`RunExecutor.actor`)."""
    kind, row = source
    run_id = new_id()
    insert_ignore(conn, automation_runs, [{
        "id": run_id, "key": key, "source_kind": kind, "source_id": row.id, "source_name": row.name,
        "actor": row.created_by, "roles": row.created_roles, "actor_account": row.created_account,
        "action": row.action,
        "event_id": event_id, "event": json.dumps(dict(event), default=str),
        "status": RunStatus.PENDING.value, "attempts": 0, "created_at": now_ms(),
    }])
    found = conn.execute(select(automation_runs.c.id).where(automation_runs.c.key == key)).scalar_one()
    return bool(found == run_id)


def to_record(row: Row[Any]) -> ActionRun:
    return ActionRun(
        id=row.id, source_kind=row.source_kind, source_name=row.source_name, actor=row.actor, event_id=row.event_id,
        event=json.loads(row.event), action=json.loads(row.action), status=RunStatus(row.status),
        attempts=row.attempts, result=None if row.result is None else json.loads(row.result), error=row.error,
        created_at=ms_to_datetime(row.created_at), started_at=ms_to_datetime(row.started_at),
        ended_at=ms_to_datetime(row.ended_at),
    )


class RunExecutor:
    """Claims runnable runs and runs their actions; safe to use from several processes at once."""

    def __init__(self, db: Database, services: Services, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self._db = db
        self._services = services
        self._lease_ms = int(lease_seconds * 1000)
        self._me = worker_name()

    def run_ready(self, ids: list[str] | None = None, limit: int = 100) -> list[ActionRun]:
        """Run every run that is ready (or those of ``ids`` that are), oldest first; return them as they ended."""
        now = now_ms()
        r = automation_runs.c
        # Running rows are narrowed below to those whose lease ran out or whose claimer died.
        ready = or_(
            and_(r.status == RunStatus.PENDING.value, or_(r.claimed_until.is_(None), r.claimed_until <= now)),
            r.status == RunStatus.RUNNING.value,
        )
        query = select(automation_runs).where(ready)
        if ids is not None:
            query = query.where(r.id.in_(ids))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(r.created_at, r.id).limit(limit)).all()
        done = []
        for row in rows:
            if row.status == RunStatus.RUNNING.value and row.claimed_until > now and not _claimer_gone(row.claimed_by):
                continue
            claimed = self._claim(row, now)
            if claimed:
                done.append(self._run(row))
        return done

    def _claim(self, row: Row[Any], now: int) -> bool:
        r = automation_runs.c
        with self._db.write() as conn:
            result = conn.execute(
                update(automation_runs)
                .where(r.id == row.id, r.status == row.status, r.attempts == row.attempts)
                .values(status=RunStatus.RUNNING.value, claimed_by=self._me, claimed_until=now + self._lease_ms,
                        attempts=row.attempts + 1, started_at=row.started_at or now)
            )
        return bool(result.rowcount == 1)

    def _run(self, row: Row[Any]) -> ActionRun:
        event = json.loads(row.event)
        # An earlier attempt that began and never recorded its end may have had its effect.
        interrupted = row.status == RunStatus.RUNNING.value
        attempt = Attempt(delivery=row.id, source=f"{row.source_kind} {row.source_name}", event=event,
                          first_started_at=row.started_at if interrupted else None)
        attempts = row.attempts + 1
        try:
            with acting_as(self.actor(row)):
                action = action_from_dict(json.loads(row.action)).render(event)
                result = action.run(self._services, attempt)
        except Exception as exc:  # an action's failure is the run's outcome, never the dispatcher's crash
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            message = self._services.confinement.paths.text(message)  # its readers see no server path
            retry = not isinstance(exc, _FINAL) and attempts < MAX_ATTEMPTS
            if not isinstance(exc, SlipwayError):
                _log.exception("action of %s %s failed", row.source_kind, row.source_name)
            refused = row if isinstance(exc, PermissionDenied) else None
            return self._finish(row.id, attempts, error=message, retry=retry, refused=refused)
        return self._finish(row.id, attempts, result=result)

    def actor(self, row: Row[Any]) -> Principal:
        """Whom a run acts as, decided at the moment it acts.

        A creator who is a user account acts with the roles they hold now (read from the security
        domain at each attempt): demoted, their automations lose the rights too; disabled or
        deleted, their automations are refused. A trusted local creator (embedded mode, or
        ``--no-auth``'s ``anonymous``) acts with the roles recorded when it set the automation up.

        Raises:
            PermissionDenied: if the creator's account is disabled or gone.
        """
        source = f"{row.source_kind}:{row.source_name}"
        if row.actor_account:
            return current_user(self._db, row.actor, source)
        return Principal(row.actor, frozenset(r for r in row.roles.split(",") if r), source=source)

    def _finish(
        self, run_id: str, attempts: int, *, result: dict[str, Any] | None = None, error: str | None = None,
        retry: bool = False, refused: Row[Any] | None = None,
    ) -> ActionRun:
        r = automation_runs.c
        now = now_ms()
        if retry:
            values: dict[str, Any] = {"status": RunStatus.PENDING.value, "error": error, "claimed_by": None,
                                      "claimed_until": now + RETRY_DELAY_MS * 2 ** (attempts - 1)}
        else:
            status = RunStatus.FAILED if error is not None else RunStatus.SUCCEEDED
            values = {"status": status.value, "error": error, "ended_at": now, "claimed_until": None,
                      "result": None if result is None else json.dumps(result, default=str)}
        with self._db.write() as conn:
            done = conn.execute(update(automation_runs)
                                .where(r.id == run_id, r.claimed_by == self._me, r.attempts == attempts)
                                .values(**values)).rowcount == 1
            if done and refused is not None:
                _audit_refusal(conn, refused, error or "")
            row = conn.execute(select(automation_runs).where(r.id == run_id)).one()
        return to_record(row)


def _audit_refusal(conn: Connection, run: Row[Any], reason: str) -> None:
    """An audit entry for an action refused for want of rights, in the name of the one it acted for.

    A refusal is what an auditor wants to see when rights were taken away: a hook of a disabled
    user still being called, a demoted user's rule still firing.
    """
    source = f"{run.source_kind}:{run.source_name}"
    with acting_as(Principal(run.actor, frozenset(), source=source)):
        record_change(conn, action=f"{run.source_kind}.refused", object_kind=ObjectKind(run.source_kind),
                      object_id=run.source_id, details={"run": run.id, "reason": reason})


def _claimer_gone(claimed_by: str | None) -> bool:
    """Whether the process named by a claim is known to be dead: it ran on this host and is gone."""
    if not claimed_by:
        return True
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
