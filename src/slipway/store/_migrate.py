"""Alembic migrations, applied programmatically.

SQLite databases are upgraded automatically on first use (under a file lock, so eight processes
opening a fresh store at once run the migration once). PostgreSQL is upgraded only by
``slipway db upgrade`` (under an advisory lock); using an out-of-date PostgreSQL schema is an
error that says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from slipway.errors import ServiceUnavailable
from slipway.store._db import Database, translate_errors

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x5119_3A7  # arbitrary, constant: "slipway migrate"


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(db: Database) -> str | None:
    with translate_errors(db), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(db: Database, conn: Connection) -> Iterator[None]:
    if db.dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
        return
    database = db.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).expanduser().with_suffix(".migrate.lock")
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision the database is at afterwards."""
    with translate_errors(db), db.engine.connect() as conn, _migration_lock(db, conn):
        if conn.in_transaction():
            conn.commit()
        command.upgrade(_config(conn), revision)
        if conn.in_transaction():
            conn.commit()
    return current_revision(db)


def ensure_current(db: Database) -> None:
    if current_revision(db) == head_revision():
        return
    if db.dialect == "sqlite":
        upgrade(db)
        return
    raise ServiceUnavailable(
        f"the database schema at {db.url.render_as_string(hide_password=True)} is at revision "
        f"{current_revision(db) or 'none'}, not {head_revision()}: run `slipway db upgrade`"
    )
