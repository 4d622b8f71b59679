"""The metric hot path: single points by group commit, batches in one statement.

A point is the tuple ``(run_id, key, value, is_nan, step, timestamp)``, already checked. On SQLite
the statements below go straight to the driver on the database's hot connection
(:meth:`~slipway.store.Database.sqlite_write`): SQLAlchemy's per-statement work cost more than
SQLite's own for one point. On PostgreSQL they are SQLAlchemy Core statements on a pooled
connection. Either way, a point is stored with the latest value of its key in one transaction,
and only if its run exists and is not deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, Float, String, and_, bindparam, cast, insert, select

from slipway.errors import Conflict, NotFound
from slipway.store import Database, upsert
from slipway.tracking._group_commit import GroupCommit
from slipway.tracking._tables import latest_metrics, runs
from slipway.tracking._tables import metrics as metrics_table

Point = tuple[str, str, float, bool, int, int]  # run_id, key, value, is_nan, step, timestamp
_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")

# SQLite, positional (?1 … ?6 in a point's order). "key" and "timestamp" are quoted: SQL keywords.
_SQLITE_INSERT = 'INSERT INTO metrics (run_id, "key", value, is_nan, step, "timestamp") VALUES (?1, ?2, ?3, ?4, ?5, ?6)'
_SQLITE_INSERT_IF_ACTIVE = (
    'INSERT INTO metrics (run_id, "key", value, is_nan, step, "timestamp") '
    "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM runs WHERE id = ?1 AND lifecycle_stage = 'active'"
)
# The latest point is the one with the highest (step, timestamp): later logs win ties.
_SQLITE_UPSERT_LATEST = (
    'INSERT INTO latest_metrics (run_id, "key", value, is_nan, step, "timestamp") VALUES (?1, ?2, ?3, ?4, ?5, ?6) '
    'ON CONFLICT (run_id, "key") DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, '
    'step = excluded.step, "timestamp" = excluded."timestamp" '
    "WHERE excluded.step > latest_metrics.step "
    'OR (excluded.step = latest_metrics.step AND excluded."timestamp" >= latest_metrics."timestamp")'
)
_SQLITE_RUN_STAGE = "SELECT lifecycle_stage FROM runs WHERE id = ?"

# PostgreSQL (and any other dialect): the same statements in SQLAlchemy Core, built once.
RUN_STAGE = select(runs.c.lifecycle_stage).where(runs.c.id == bindparam("run_id"))
_INSERT = insert(metrics_table)
_TYPES: dict[str, Any] = {
    "key": String(),
    "value": Float(),
    "is_nan": Boolean(),
    "step": BigInteger(),
    "timestamp": BigInteger(),
}
_INSERT_IF_ACTIVE = (
    insert(metrics_table)
    .from_select(
        list(_COLUMNS),
        select(runs.c.id, *(cast(bindparam(name), type_) for name, type_ in _TYPES.items())).where(
            runs.c.id == bindparam("run_id"), runs.c.lifecycle_stage == "active"
        ),
    )
    .returning(metrics_table.c.id)
)


def newer(table: Any, excluded: Any) -> Any:
    """The latest point is the one with the highest (step, timestamp): later logs win ties."""
    return (excluded.step > table.c.step) | and_(excluded.step == table.c.step, excluded.timestamp >= table.c.timestamp)


def stage_error(stage: str | None, run_id: str) -> Exception | None:
    """Why nothing may be logged to a run in ``stage`` (None: no such run); None if it is active."""
    if stage is None:
        return NotFound(f"run {run_id!r} does not exist", field="run_id")
    if stage != "active":
        return Conflict(f"run {run_id!r} is deleted; restore it before logging to it", field="run_id")
    return None


def latest_points(points: Iterable[Point]) -> list[Point]:
    """The latest point of each (run, key) among ``points``: highest (step, timestamp), the later on ties."""
    latest: dict[tuple[str, str], Point] = {}
    for p in points:
        cur = latest.get((p[0], p[1]))
        if cur is None or (p[4], p[5]) >= (cur[4], cur[5]):
            latest[(p[0], p[1])] = p
    return list(latest.values())


class MetricWriter:
    """Stores checked metric points of a database's runs; thread-safe."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sqlite = db.dialect == "sqlite"
        self._group: GroupCommit[Point] = GroupCommit(self._write_group)

    def log(self, point: Point) -> None:
        """Store one point; return once it is committed (group commit with concurrent callers).

        Raises:
            NotFound: if the run does not exist.
            Conflict: if it is deleted.
        """
        if self._db.joined:  # the thread's own transaction is open: another's group would wait for it
            error = self._write_group([point])[0]
            if error is not None:
                raise error
            return
        self._group.submit(point)

    def log_many(self, run_id: str, points: Sequence[Point]) -> None:
        """Store a batch of one run's points in one transaction of their own.

        Raises:
            NotFound: if the run does not exist.
            Conflict: if it is deleted.
        """
        if not self._sqlite:
            with self._db.write() as conn:
                error = stage_error(conn.execute(RUN_STAGE, {"run_id": run_id}).scalar(), run_id)
                if error is not None:
                    raise error
                self.insert(conn, points)
            return
        with self._db.sqlite_write() as raw:
            error = stage_error(_sqlite_stage(raw, run_id), run_id)
            if error is not None:
                raise error
            _sqlite_insert(raw, points)

    def insert(self, conn: Connection, points: Sequence[Point]) -> None:
        """Insert points (the caller has checked their run) inside the caller's write transaction."""
        if not points:
            return
        if self._sqlite:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            _sqlite_insert(raw, points)
            return
        conn.execute(_INSERT, [dict(zip(_COLUMNS, p, strict=True)) for p in points])
        _upsert_latest(conn, latest_points(points))

    def _write_group(self, points: Sequence[Point]) -> list[Exception | None]:
        errors: list[Exception | None] = [None] * len(points)
        stored: list[Point] = []
        if self._sqlite:
            with self._db.sqlite_write() as raw:
                for i, p in enumerate(points):
                    if raw.execute(_SQLITE_INSERT_IF_ACTIVE, p).rowcount == 1:
                        stored.append(p)
                    else:
                        errors[i] = stage_error(_sqlite_stage(raw, p[0]), p[0])
                if stored:
                    raw.executemany(_SQLITE_UPSERT_LATEST, latest_points(stored))
            return errors
        with self._db.write() as conn:
            for i, p in enumerate(points):
                row = dict(zip(_COLUMNS, p, strict=True))
                if conn.execute(_INSERT_IF_ACTIVE, row).first() is not None:
                    stored.append(p)
                else:
                    errors[i] = stage_error(conn.execute(RUN_STAGE, {"run_id": p[0]}).scalar(), p[0])
            _upsert_latest(conn, latest_points(stored))
        return errors


def _sqlite_stage(raw: sqlite3.Connection, run_id: str) -> str | None:
    row = raw.execute(_SQLITE_RUN_STAGE, (run_id,)).fetchone()
    return None if row is None else str(row[0])


def _sqlite_insert(raw: sqlite3.Connection, points: Sequence[Point]) -> None:
    raw.executemany(_SQLITE_INSERT, points)
    raw.executemany(_SQLITE_UPSERT_LATEST, latest_points(points))


def _upsert_latest(conn: Connection, points: Sequence[Point]) -> None:
    upsert(
        conn,
        latest_metrics,
        [dict(zip(_COLUMNS, p, strict=True)) for p in points],
        keys=("run_id", "key"),
        update=("value", "is_nan", "step", "timestamp"),
        where=newer,
    )
