"""Portable statements that SQLAlchemy Core spells per dialect (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


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
    where: Any = None,
) -> None:
    """Insert rows or, on a key clash, overwrite the ``update`` columns (only where ``where`` holds).

    ``where`` is built from the table and ``excluded`` columns by a callable ``where(table, excluded)``.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    set_ = {c: stmt.excluded[c] for c in update}
    condition = where(table, stmt.excluded) if where is not None else None
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=condition), list(rows))
