"""The metric hot path: single points by group commit, batches in one statement.

A point is the tuple ``(run_id, key, value, is_nan, step, timestamp)``, already checked; it is
stored as a row of ``metric_points`` under the integer id of its series (its run and key, in
``metric_series``, created on first use). On SQLite the statements below go straight to the
driver on the database's hot connection (:meth:`~slipway.store.Database.sqlite_write`):
SQLAlchemy's per-statement work cost more than SQLite's own for one point. On PostgreSQL they are
SQLAlchemy Core statements on a pooled connection. Either way, a point is stored with the latest
value of its key in one transaction, and only if its run exists and is not deleted.

Points of a series that share a step and a timestamp are numbered (``seq``) in the order they
were logged. Nearly always a point is the only one: it is inserted with ``seq`` 0, and only if
that clashes with a stored point are the batch's points numbered one by one after the highest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from slipway.errors import Conflict, NotFound
from slipway.store import Database, upsert
from slipway.tracking._group_commit import GroupCommit
from slipway.tracking._tables import latest_metrics, metric_points, metric_series, runs

Point = tuple[str, str, float, int, int, int]  # run_id, key, value, is_nan (0 or 1), step, timestamp
_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")

# SQLite, positional. "key" and "timestamp" are quoted: SQL keywords.
_SQLITE_SERIES = 'SELECT id FROM metric_series WHERE run_id = ? AND "key" = ?'
_SQLITE_NEW_SERIES = 'INSERT INTO metric_series (run_id, "key") VALUES (?, ?)'
# A row is (series_id, step, timestamp, value, is_nan).
_SQLITE_INSERT = (
    'INSERT INTO metric_points (series_id, step, "timestamp", seq, value, is_nan) VALUES (?, ?, ?, 0, ?, ?)'
)
_SQLITE_INSERT_NUMBERED = (
    'INSERT INTO metric_points (series_id, step, "timestamp", seq, value, is_nan) VALUES (?1, ?2, ?3, '
    '(SELECT coalesce(max(seq) + 1, 0) FROM metric_points WHERE series_id = ?1 AND step = ?2 AND "timestamp" = ?3), '
    "?4, ?5)"
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
_NEW_SERIES = postgresql.insert(metric_series).on_conflict_do_nothing(index_elements=["run_id", "key"])
# Locked: concurrent writers of a series take turns, so the numbering of clashing points is never raced.
_SERIES = (
    select(metric_series.c.key, metric_series.c.id)
    .where(metric_series.c.run_id == bindparam("run_id"), metric_series.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(metric_series.c.key)
    .with_for_update()
)
_INSERT = insert(metric_points)
# A row's values under names of their own: the column names are the VALUES clause's.
_ROW = {"series_id": "p_series", "step": "p_step", "timestamp": "p_timestamp", "value": "p_value", "is_nan": "p_nan"}
_INSERT_NUMBERED = insert(metric_points).values(
    **{column: bindparam(name) for column, name in _ROW.items()},
    seq=select(func.coalesce(func.max(metric_points.c.seq) + 1, 0))
    .where(
        metric_points.c.series_id == bindparam("p_series"),
        metric_points.c.step == bindparam("p_step"),
        metric_points.c.timestamp == bindparam("p_timestamp"),
    )
    .scalar_subquery(),
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
    """The latest point of each key among one run's ``points``: highest (step, timestamp), the later on ties."""
    latest: dict[str, Point] = {}
    get = latest.get
    for p in points:
        cur = get(p[1])
        if cur is None or p[4] > cur[4] or (p[4] == cur[4] and p[5] >= cur[5]):
            latest[p[1]] = p
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
                _insert(conn, run_id, points)
            return
        with self._db.sqlite_write() as raw:
            error = stage_error(_sqlite_stage(raw, run_id), run_id)
            if error is not None:
                raise error
            _sqlite_insert(raw, run_id, points)

    def insert(self, conn: Connection, run_id: str, points: Sequence[Point]) -> None:
        """Insert one run's points (the caller has checked the run) inside the caller's write transaction."""
        if not points:
            return
        if self._sqlite:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            _sqlite_insert(raw, run_id, points)
            return
        _insert(conn, run_id, points)

    def _write_group(self, points: Sequence[Point]) -> list[Exception | None]:
        errors: list[Exception | None] = [None] * len(points)
        by_run: dict[str, list[Point]] = {}
        if self._sqlite:
            with self._db.sqlite_write() as raw:
                for i, p in enumerate(points):
                    if p[0] not in by_run:
                        errors[i] = stage_error(_sqlite_stage(raw, p[0]), p[0])
                        if errors[i] is not None:
                            continue
                    by_run.setdefault(p[0], []).append(p)
                for run_id, stored in by_run.items():
                    _sqlite_insert(raw, run_id, stored)
            return errors
        with self._db.write() as conn:
            for i, p in enumerate(points):
                if p[0] not in by_run:
                    errors[i] = stage_error(conn.execute(RUN_STAGE, {"run_id": p[0]}).scalar(), p[0])
                    if errors[i] is not None:
                        continue
                by_run.setdefault(p[0], []).append(p)
            for run_id, stored in by_run.items():
                _insert(conn, run_id, stored)
        return errors


def _sqlite_stage(raw: sqlite3.Connection, run_id: str) -> str | None:
    row = raw.execute(_SQLITE_RUN_STAGE, (run_id,)).fetchone()
    return None if row is None else str(row[0])


def _sqlite_insert(raw: sqlite3.Connection, run_id: str, points: Sequence[Point]) -> None:
    series: dict[str, int] = {}
    for key in {p[1] for p in points}:
        row = raw.execute(_SQLITE_SERIES, (run_id, key)).fetchone()
        if row is None:
            row = (raw.execute(_SQLITE_NEW_SERIES, (run_id, key)).lastrowid,)
        series[key] = row[0]
    rows = [(series[p[1]], p[4], p[5], p[2], p[3]) for p in points]
    # No savepoint (it would copy every page the batch touches to a sub-journal): executemany runs
    # one statement per row, and a failing one undoes only itself, so the rows before it stay
    # stored and are counted by total_changes. The clashing row and the rest are then numbered.
    stored = raw.total_changes
    try:
        raw.executemany(_SQLITE_INSERT, rows)
    except sqlite3.IntegrityError:  # a point shares its series, step and timestamp with one stored
        raw.executemany(_SQLITE_INSERT_NUMBERED, rows[raw.total_changes - stored:])
    raw.executemany(_SQLITE_UPSERT_LATEST, latest_points(points))


def _insert(conn: Connection, run_id: str, points: Sequence[Point]) -> None:
    keys = list(dict.fromkeys(p[1] for p in points))
    conn.execute(_NEW_SERIES, [{"run_id": run_id, "key": k} for k in keys])
    series = {key: id_ for key, id_ in conn.execute(_SERIES, {"run_id": run_id, "keys": keys})}
    rows = [
        {"series_id": series[p[1]], "step": p[4], "timestamp": p[5], "seq": 0, "value": p[2], "is_nan": bool(p[3])}
        for p in points
    ]
    try:
        with conn.begin_nested():
            conn.execute(_INSERT, rows)
    except IntegrityError:  # points sharing a step and timestamp: numbered in the order logged
        for row in rows:
            conn.execute(_INSERT_NUMBERED, {name: row[column] for column, name in _ROW.items()})
    upsert(
        conn,
        latest_metrics,
        [dict(zip(_COLUMNS, (*p[:3], bool(p[3]), *p[4:]), strict=True)) for p in latest_points(points)],
        keys=("run_id", "key"),
        update=("value", "is_nan", "step", "timestamp"),
        where=newer,
    )
