"""A queue of jobs in the metadata database: heavy work a server hands to its worker processes.

A job is a row: a kind (``monitor.run``), a JSON payload, who asked (the principal it runs as),
and a status, ``Pending`` → ``Running`` → ``Succeeded`` or ``Failed``. A worker claims the oldest
pending job with a lease (holder, expiry, token: one ``UPDATE ... WHERE`` the job is pending, or
running under a lease that ran out), renews it while it works, and records the result or the error
as the error's JSON body, which the asker raises again as the same exception. A worker that dies
leaves a lease that runs out: the next worker runs the job again (the work is one that may be
repeated, such as a monitor run). Finished jobs are deleted after :data:`KEEP_MS`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, delete, insert, or_, select, update

from slipway._ids import new_id
from slipway._time import now_ms
from slipway.errors import NotFound, SlipwayError, error_from_dict
from slipway.store._db import Database
from slipway.store._schema import metadata

_log = logging.getLogger(__name__)
KEEP_MS = 24 * 3600 * 1000  # finished jobs are deleted a day after they ended
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("actor", String(256), nullable=False),  # the principal it runs as: name and roles
    Column("roles", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("holder", String(256), nullable=True),
    Column("lease_token", Integer, nullable=False, default=0),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),  # JSON: the error's body and HTTP status
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_jobs_status", "status", "created_at"),
)


@dataclass(frozen=True)
class Job:
    """A job as read: its payload, who asked, and (once ended) its result or error."""

    id: str
    kind: str
    payload: dict[str, Any]
    actor: str
    roles: tuple[str, ...]
    status: str
    attempts: int
    token: int
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.status in (SUCCEEDED, FAILED)

    def outcome(self) -> Any:
        """The result of a job that succeeded; for one that failed, its error raised again.

        Raises:
            SlipwayError: the error the job ended with (the same class, message and field).
        """
        if self.status == FAILED:
            assert self.error is not None
            raise error_from_dict(self.error["body"], int(self.error["status"]))
        return self.result


def _job(row: Any) -> Job:
    return Job(
        id=row.id, kind=row.kind, payload=json.loads(row.payload), actor=row.actor,
        roles=tuple(r for r in row.roles.split(",") if r), status=row.status, attempts=row.attempts,
        token=row.lease_token, result=None if row.result is None else json.loads(row.result),
        error=None if row.error is None else json.loads(row.error),
    )


class JobQueue:
    """Submit, claim, renew and finish jobs; safe to use from many processes on one database.

    Args:
        db: the metadata database.
        lease_ms: how long a claim lasts unless renewed (the ``lease_seconds`` setting).
    """

    def __init__(self, db: Database, lease_ms: int) -> None:
        self._db = db
        self.lease_ms = lease_ms

    def submit(self, kind: str, payload: dict[str, Any], *, actor: str, roles: Sequence[str]) -> str:
        """Queue a job; returns its id."""
        job_id = new_id()
        with self._db.write() as conn:
            conn.execute(insert(jobs).values(
                id=job_id, kind=kind, payload=json.dumps(payload, default=str), actor=actor, roles=",".join(roles),
                status=PENDING, lease_token=0, attempts=0, created_at=now_ms(),
            ))
        return job_id

    def get(self, job_id: str) -> Job:
        """Raises: NotFound for an unknown (or deleted) job."""
        with self._db.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", field="job_id")
        return _job(row)

    def claim(self, holder: str, kinds: Sequence[str], *, job_id: str | None = None) -> Job | None:
        """The oldest job of ``kinds`` nobody works on (the job ``job_id`` only, when given), now
        held by ``holder``; None if there is none."""
        now = now_ms()
        j = jobs.c
        ready = or_(j.status == PENDING, (j.status == RUNNING) & (j.lease_expires_at < now))
        which = [ready, j.kind.in_(list(kinds))] + ([j.id == job_id] if job_id is not None else [])
        with self._db.read() as conn:
            candidates = conn.execute(
                select(j.id, j.lease_token).where(*which).order_by(j.created_at).limit(5)
            ).all()
        for candidate in candidates:
            with self._db.write() as conn:
                won = conn.execute(
                    update(jobs)
                    .where(j.id == candidate.id, j.lease_token == candidate.lease_token, ready)
                    .values(status=RUNNING, holder=holder, lease_token=candidate.lease_token + 1,
                            lease_expires_at=now + self.lease_ms, attempts=j.attempts + 1, started_at=now)
                ).rowcount == 1
                if won:
                    return _job(conn.execute(select(jobs).where(j.id == candidate.id)).one())
        return None

    def inputs_in_use(self) -> set[str]:
        """The staged inputs (``payload["input"]``, see :class:`~slipway.store.JobInputs`) of the
        jobs not ended: a worker may still read them."""
        j = jobs.c
        with self._db.read() as conn:
            payloads = conn.execute(select(j.payload).where(j.status.in_([PENDING, RUNNING]))).scalars().all()
        found = (json.loads(p).get("input") for p in payloads)
        return {str(i) for i in found if i is not None}

    def renew(self, job: Job) -> bool:
        """Extend the claim on ``job``; False if it was lost (another worker took the job over)."""
        j = jobs.c
        with self._db.write() as conn:
            return bool(conn.execute(
                update(jobs).where(j.id == job.id, j.lease_token == job.token, j.status == RUNNING)
                .values(lease_expires_at=now_ms() + self.lease_ms)
            ).rowcount == 1)

    def run(self, job: Job, work: Callable[[Job], Any]) -> Job:
        """Run a claimed job to its end: ``work(job)``'s answer is its result, what it raises its
        error; the claim is renewed meanwhile (a third of the lease apart). Returns the job as it ended."""
        done = threading.Event()
        keeper = threading.Thread(target=self._renew, args=(job, done), name=f"slipway-job-{job.id}", daemon=True)
        keeper.start()
        try:
            result = work(job)
        except Exception as exc:  # the job's failure is its outcome, told to whoever asked
            self.finish(job, error=exc)
        else:
            self.finish(job, result=result)
        finally:
            done.set()
        return self.get(job.id)

    def _renew(self, job: Job, done: threading.Event) -> None:
        while not done.wait(self.lease_ms / 3000):
            try:
                if not self.renew(job):
                    return
            except Exception:
                _log.warning("could not renew the lease of job %s", job.id, exc_info=True)

    def finish(self, job: Job, *, result: Any = None, error: BaseException | None = None) -> None:
        """Record how ``job`` ended (unless its claim was lost); old finished jobs are deleted."""
        j = jobs.c
        now = now_ms()
        values: dict[str, Any] = {"status": SUCCEEDED, "result": json.dumps(result, default=str)}
        if error is not None:
            failure = error if isinstance(error, SlipwayError) else SlipwayError(f"{type(error).__name__}: {error}")
            values = {"status": FAILED, "error": json.dumps({"body": failure.to_dict(),
                                                             "status": failure.http_status})}
        with self._db.write() as conn:
            conn.execute(update(jobs).where(j.id == job.id, j.lease_token == job.token)
                         .values(ended_at=now, lease_expires_at=None, **values))
            conn.execute(delete(jobs).where(j.ended_at < now - KEEP_MS))
