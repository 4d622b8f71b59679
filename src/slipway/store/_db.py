"""The metadata database: one engine per URL, SQLite tuned for many writers, PostgreSQL via psycopg.

Contract:
    * ``read()`` yields a connection inside a deferred transaction: a consistent snapshot,
      never blocking writers (SQLite WAL, PostgreSQL MVCC).
    * ``write()`` yields a connection inside a write transaction committed on exit and rolled
      back on error. On SQLite it starts with ``BEGIN IMMEDIATE`` so writers queue on the lock
      (up to ``busy_timeout``) instead of failing with "database is locked" when two deferred
      transactions both try to upgrade.
    * Engine errors that mean "the database is not there" become :class:`ServiceUnavailable`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from slipway.errors import InvalidInput, MissingExtra, ServiceUnavailable

SQLITE_BUSY_TIMEOUT_MS = 120_000


class Database:
    """A metadata database chosen by URL (``sqlite:///path`` or ``postgresql+psycopg://...``)."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InvalidInput(f"not a database URL: {url!r}", field="db_url") from None
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidInput(
                f"unsupported database {self.dialect!r}: use sqlite:/// or postgresql+psycopg://",
                field="db_url",
            )
        self._migrated = False
        self._lock = threading.Lock()
        try:
            if self.dialect == "sqlite":
                self.engine = self._sqlite_engine(parsed)
            else:
                if parsed.drivername == "postgresql":
                    parsed = parsed.set(drivername="postgresql+psycopg")
                self.engine = create_engine(
                    parsed, pool_size=pool_size, max_overflow=16, pool_pre_ping=True, future=True
                )
        except NoSuchModuleError:
            raise InvalidInput(f"unknown database driver in {url!r}", field="db_url") from None
        except ModuleNotFoundError as exc:
            raise MissingExtra("postgres", exc.name or "psycopg") from None
        self._writer = self.engine.execution_options(slipway_write=True)

    @staticmethod
    def _sqlite_engine(url: Any) -> Engine:
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, future=True)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("slipway_write", False)
            # Straight to the driver: SQLAlchemy's statement machinery costs more than the BEGIN itself
            # on the metric-logging path.
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]

        return engine

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with translate_errors(self), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with translate_errors(self), self._writer.begin() as conn:
            yield conn

    def ensure_schema(self) -> None:
        """Bring the schema to the newest migration (SQLite) or check it is there (PostgreSQL).

        Called once per process before the first use; cheap after that.
        """
        if self._migrated:
            return
        with self._lock:
            if self._migrated:
                return
            from slipway.store._migrate import ensure_current  # alembic is heavy: import on first use

            ensure_current(self)
            self._migrated = True

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


@contextlib.contextmanager
def translate_errors(db: Database) -> Iterator[None]:
    """Turn engine errors that mean "the database is not there or stayed locked" into ServiceUnavailable."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "locked" in text or "busy" in text:
            raise ServiceUnavailable(
                f"the database stayed locked for {SQLITE_BUSY_TIMEOUT_MS // 1000}s: {text}"
            ) from exc
        if db.dialect == "postgresql" and ("connect" in text or "connection" in text):
            raise ServiceUnavailable(
                f"cannot reach PostgreSQL at {db.url.render_as_string(hide_password=True)}: {text.strip()}"
            ) from exc
        raise
