"""The metadata database: one engine per URL, SQLite tuned for many writers, PostgreSQL via psycopg.

Contract:
    * ``read()`` yields a connection inside a deferred transaction: a consistent snapshot,
      never blocking writers (SQLite WAL, PostgreSQL MVCC).
    * ``write()`` yields a connection inside a write transaction committed on exit and rolled
      back on error. On SQLite it starts with ``BEGIN IMMEDIATE`` so writers queue on the lock
      (up to ``busy_timeout``) instead of failing with "database is locked" when two deferred
      transactions both try to upgrade.
    * ``writer()`` lends a pool connection for several ``write(held=...)`` transactions in a
      row, each as ``write()``'s; the caller closes it (back to the pool).
    * ``sqlite_write()`` (SQLite only) yields the raw DB-API connection of the hot write paths
      (metric logging) inside ``BEGIN IMMEDIATE`` … ``COMMIT``: one connection per database and
      process, kept open, used by one thread at a time, with the same pragmas, durability and
      error translation as ``write()``, and none of SQLAlchemy's per-statement cost.
    * ``transaction()`` makes the ``write()`` and ``sqlite_write()`` calls of the calling thread
      inside it join one write transaction, committed when it exits: several writes, one commit.
    * A caller waits at most ``timeout`` seconds (the ``db_timeout`` setting) for the database:
      for a lock (SQLite's busy timeout, PostgreSQL's ``lock_timeout``), for a connection from the
      pool, for PostgreSQL to answer a connection. Past it, and whenever the database is not
      there, the error is :class:`ServiceUnavailable` (HTTP 503 with ``Retry-After``); a full
      disk under the database is :class:`InsufficientStorage` (507).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from slipway.errors import InsufficientStorage, InvalidInput, MissingExtra, ServiceUnavailable

DEFAULT_TIMEOUT_S = 30.0  # the db_timeout setting's default
# SQLSTATE classes and codes of PostgreSQL that mean "not now": try again later.
_PG_UNAVAILABLE_CLASSES = ("08", "57")  # connection exceptions; operator intervention (shutdown, cancel)
_PG_UNAVAILABLE = ("55P03", "40P01", "53300")  # lock not available, deadlock, too many connections
_PG_FULL = ("53100",)  # disk full


class Database:
    """A metadata database chosen by URL (``sqlite:///path`` or ``postgresql+psycopg://...``)."""

    def __init__(self, url: str, *, pool_size: int = 8, timeout: float = DEFAULT_TIMEOUT_S,
                 synchronous: str = "NORMAL") -> None:
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
        self._hot_lock = threading.Lock()
        self._hot: tuple[int, Any] | None = None  # (pid, pooled connection) of sqlite_write
        self._joined = threading.local()  # .conn: the write transaction of transaction() in this thread
        self.timeout = timeout
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInput(f"db_synchronous must be NORMAL or FULL, got {synchronous!r}",
                               field="db_synchronous")
        self.synchronous = synchronous
        try:
            if self.dialect == "sqlite":
                self.engine = self._sqlite_engine(parsed, timeout, synchronous)
            else:
                if parsed.drivername == "postgresql":
                    parsed = parsed.set(drivername="postgresql+psycopg")
                self.engine = create_engine(
                    parsed, pool_size=pool_size, max_overflow=16, pool_pre_ping=True, future=True,
                    pool_timeout=timeout, connect_args=_postgres_waits(parsed.query, timeout),
                )
        except NoSuchModuleError:
            raise InvalidInput(f"unknown database driver in {url!r}", field="db_url") from None
        except ModuleNotFoundError as exc:
            raise MissingExtra("postgres", exc.name or "psycopg") from None
        self._writer = self.engine.execution_options(slipway_write=True)

    @staticmethod
    def _sqlite_engine(url: Any, timeout: float, synchronous: str) -> Engine:
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout}, pool_timeout=timeout, future=True)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL (default): with WAL a commit survives a crash of the process, not a power loss;
            # FULL: an fsync per commit (the db_synchronous setting, docs/storage.md).
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
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
    def write(self, held: Connection | None = None) -> Iterator[Connection]:
        """A write transaction, committed on exit: on a connection from the pool, or on ``held``
        (from :meth:`writer`), the caller's for several transactions in a row. Inside
        :meth:`transaction` (and no ``held``), the block's transaction: it commits or rolls back."""
        if held is None:
            joined: Connection | None = getattr(self._joined, "conn", None)
            if joined is not None:
                yield joined
                return
            with translate_errors(self), self._writer.begin() as conn:
                yield conn
            return
        with translate_errors(self), held.begin():
            yield held

    def writer(self) -> Connection:
        """A connection of the pool for several ``write(held=...)`` transactions in a row (each is
        as ``write()``'s: ``BEGIN IMMEDIATE`` on SQLite), closed by the caller: a burst of short
        transactions, an orchestrator's rounds, takes it from the pool once, not once each."""
        with translate_errors(self):
            return self._writer.connect()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction for every ``write()`` and ``sqlite_write()`` of this thread inside
        the block: committed when the block exits, rolled back (all of it) if it raises.

        Several small writes that belong together (a run's end and the next run's start) pay for one
        ``BEGIN``/``COMMIT`` instead of one each. Other threads' writes wait for the block, as they
        wait for any write transaction: keep it short. Nested, the inner block joins the outer one.
        """
        if getattr(self._joined, "conn", None) is not None:
            yield self._joined.conn
            return
        with self.write() as conn:
            self._joined.conn = conn
            try:
                yield conn
            finally:
                self._joined.conn = None

    @property
    def joined(self) -> bool:
        """Whether this thread is inside ``transaction()``: its writes wait for no one else's commit."""
        return getattr(self._joined, "conn", None) is not None

    @contextlib.contextmanager
    def sqlite_write(self) -> Iterator[sqlite3.Connection]:
        """The SQLite DB-API connection of the hot write paths, in a write transaction committed on exit.

        Statements are the caller's, in SQLite's dialect; everything else is as ``write()``: the
        same pragmas (journal, ``synchronous``, foreign keys, busy timeout), ``BEGIN IMMEDIATE``,
        a rollback on error and the same error translation. Callers take turns on one connection,
        so the statements the driver prepares stay cached between calls.

        Raises:
            RuntimeError: on any other database than SQLite.
        """
        if self.dialect != "sqlite":
            raise RuntimeError("sqlite_write() is for SQLite databases only")
        joined: Connection | None = getattr(self._joined, "conn", None)
        if joined is not None:  # inside transaction(): its connection, its transaction
            raw = joined.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            yield raw
            return
        with self._hot_lock, translate_errors(self):
            conn = self._hot_connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.commit()
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise

    def _hot_connection(self) -> sqlite3.Connection:
        """The connection of ``sqlite_write``, opened once per process (one is never used across a fork)."""
        if self._hot is None or self._hot[0] != os.getpid():
            self._hot = (os.getpid(), self.engine.raw_connection())
        connection = self._hot[1].dbapi_connection
        assert isinstance(connection, sqlite3.Connection)
        return connection

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
        with self._hot_lock:
            if self._hot is not None and self._hot[0] == os.getpid():
                self._hot[1].close()  # back to the pool, which the engine's disposal then closes
            self._hot = None
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def _postgres_waits(query: Any, timeout: float) -> dict[str, Any]:
    """psycopg's connect arguments that bound the waits, unless the URL sets them itself."""
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = max(1, round(timeout))
    if "options" not in query:
        args["options"] = f"-c lock_timeout={int(timeout * 1000)}"
    return args


@contextlib.contextmanager
def translate_errors(db: Database) -> Iterator[None]:
    """Turn engine errors that mean "not now" into ServiceUnavailable, and "full" into InsufficientStorage.

    Our own ``BEGIN IMMEDIATE`` goes straight to the driver, so SQLite's "database is locked"
    may come as the driver's exception rather than SQLAlchemy's: both are caught.
    """
    wait = f"{db.timeout:g}s (server setting db_timeout)"
    try:
        yield
    except PoolTimeout as exc:
        raise ServiceUnavailable(f"every database connection stayed busy for {wait}; try again later") from exc
    except (DBAPIError, sqlite3.OperationalError) as exc:
        original = exc.orig if isinstance(exc, DBAPIError) else exc
        # Only an operational error's text is read: others (a constraint) may quote stored values.
        operational = isinstance(original, sqlite3.OperationalError) or isinstance(exc, OperationalError)
        text = str(original).strip() if operational else ""
        state = str(getattr(original, "sqlstate", None) or "")
        if "disk is full" in text or state in _PG_FULL:
            raise InsufficientStorage(f"the database's disk is full: {text or state}") from exc
        if "locked" in text or "busy" in text or state in _PG_UNAVAILABLE:
            raise ServiceUnavailable(f"the database stayed locked for {wait}; try again later") from exc
        gone = state[:2] in _PG_UNAVAILABLE_CLASSES or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        if db.dialect == "postgresql" and (gone or "connect" in text or "connection" in text):
            raise ServiceUnavailable(
                f"cannot reach PostgreSQL at {db.url.render_as_string(hide_password=True)}: {text or state}"
            ) from exc
        raise
