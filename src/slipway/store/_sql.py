"""Portable statements that SQLAlchemy Core spells per dialect (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, skipping any whose primary key already exists."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Iterable[str],
    update: Iterable[str],
    where: Callable[[Table, Any], Any] | None = None,
) -> None:
    """Insert rows or, on a key clash, overwrite the ``update`` columns (only where ``where`` holds).

    ``where`` is a callable ``where(table, excluded)`` building the condition from the table's and
    the incoming row's columns. The statement is built once per shape and reused: building it
    costs more than running it on the hot path of metric logging.
    """
    if rows:
        stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update), where)
        conn.execute(stmt, list(rows))


@functools.lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    update: tuple[str, ...],
    where: Callable[[Table, Any], Any] | None,
) -> Any:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    set_ = {c: stmt.excluded[c] for c in update}
    condition = where(table, stmt.excluded) if where is not None else None
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=condition)


_Order = Callable[[Mapping[str, Any]], tuple[Any, ...]]  # a mapping's values in a positional statement's order


class Prepared:
    """A Core statement compiled once per dialect, then run on the driver's own connection.

    On the hottest write paths (a pipeline step's transitions, several a step, each a few
    microseconds of the database's work) executing a Core statement costs far more than the
    statement: binding, an execution context, a result object with its column metadata. This
    compiles the statement once per dialect and hands its SQL to the driver's ``execute`` on the
    connection (inside the caller's transaction), as :class:`~slipway.store.Database` does for
    ``BEGIN``. The driver's errors are raised wrapped as SQLAlchemy's, so ``translate_errors``
    maps them as it maps any. Only for statements whose bound values need no type processing
    (strings, numbers, None) and that have no expanding ``IN`` parameters.

    Returns the driver's cursor: ``rowcount``, and rows as tuples in the selected columns' order.

    Example:
        >>> seen = update(runs).where(runs.c.id == bindparam("id")).values(seen_at=bindparam("now"))
        >>> touch = Prepared(seen)
        >>> touch(conn, {"id": run_id, "now": now_ms()}).rowcount  # doctest: +SKIP
        1
    """

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, _Order | None, dict[str, Any]]] = {}

    def _compile(self, dialect: Any, params: Mapping[str, Any]) -> tuple[str, _Order | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            names = compiled.positiontup  # the order of a positional paramstyle's values (SQLite's ?)
            fixed = {k: v for k, v in compiled.params.items() if k not in params}  # literals the Core bound
            found = self._compiled[dialect.name] = (str(compiled), _positional(names) if names else None, fixed)
        return found

    def __call__(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        dialect = conn.dialect
        sql, order, fixed = self._compile(dialect, params)
        values: Any = {**fixed, **params} if fixed else params
        if order is not None:
            values = order(values)
        driver: Any = conn.connection.driver_connection
        try:
            return driver.execute(sql, values)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement once per row of ``rows`` (each with the same names), in one driver call.

        Returns the number of rows the statements changed in all (the driver's ``rowcount``).
        """
        if not rows:
            return 0
        if len(rows) == 1:
            return int(self(conn, rows[0]).rowcount)
        dialect = conn.dialect
        sql, order, fixed = self._compile(dialect, rows[0])
        values: list[Any] = [{**fixed, **row} if fixed else row for row in rows]
        if order is not None:
            values = [order(v) for v in values]
        driver: Any = conn.connection.driver_connection
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, values)
            return int(cursor.rowcount)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
        finally:
            cursor.close()


def _positional(names: Sequence[str]) -> _Order:
    """The values of ``names`` from a mapping, as a tuple in their order."""
    if len(names) == 1:
        only = names[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*names)  # type: ignore[return-value]
