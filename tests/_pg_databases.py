"""Fresh PostgreSQL databases for tests, created ahead and dropped behind by background threads.

Each test that takes ``pg_url`` gets a database of its own, copied from the session's migrated
template. ``CREATE DATABASE`` takes a tenth of a second or so; ``DROP DATABASE`` waits for a full
checkpoint of the PostgreSQL cluster (PostgreSQL 15 forces one per drop), from a tenth of a second to
seconds when the disk is busy. One thread makes the next database while a test runs, another drops
the finished ones, so no test waits for either. The databases are the same as before: copies of the
same template, never shared between tests.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text

AHEAD = 2  # databases kept ready: a test takes one while the next one is made


class PgDatabases:
    """Hands out fresh copies of ``template``; :meth:`release` drops one later, :meth:`close` drops the rest."""

    def __init__(self, admin_url: str, template: str) -> None:
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        names = (f"slipway_t_{os.getpid()}_{n}" for n in itertools.count())
        self._ready: queue.Queue[str | Exception] = queue.Queue()
        self._to_create: queue.Queue[str | None] = queue.Queue()
        self._to_drop: queue.Queue[str | None] = queue.Queue()
        self._drop_errors: list[Exception] = []
        self._names = names
        self._threads = [
            _worker(self._admin, self._to_create, self._create(template), "slipway-test-pg-create"),
            _worker(self._admin, self._to_drop, self._drop, "slipway-test-pg-drop"),
        ]
        for _ in range(AHEAD):
            self._to_create.put(next(names))

    def _create(self, template: str) -> Callable[[Engine, str], None]:
        def create(admin: Engine, name: str) -> None:
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            except Exception as exc:  # the test waiting for a database fails with it
                self._ready.put(exc)
            else:
                self._ready.put(name)

        return create

    def _drop(self, admin: Engine, name: str) -> None:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # raised by close, at the end of the session
            self._drop_errors.append(exc)

    def take(self) -> str:
        """The name of a fresh database; the next one is started meanwhile."""
        self._to_create.put(next(self._names))
        got = self._ready.get(timeout=120)
        if isinstance(got, Exception):
            raise got
        return got

    def release(self, name: str) -> None:
        """Drop ``name`` in the background: its test is done with it."""
        self._to_drop.put(name)

    def close(self) -> None:
        """Drop every database made (waiting for the drops still queued) and stop the threads."""
        self._to_create.put(None)
        self._threads[0].join()
        while not self._ready.empty():
            made = self._ready.get()
            if isinstance(made, str):
                self._to_drop.put(made)
        self._to_drop.put(None)
        self._threads[1].join()
        self._admin.dispose()
        if self._drop_errors:
            raise self._drop_errors[0]


def _worker(
    admin: Engine, work: queue.Queue[str | None], job: Callable[[Engine, str], None], name: str
) -> threading.Thread:
    """A daemon thread calling ``job(admin, item)`` for each item of ``work`` until it gets None."""

    def run() -> None:
        while (item := work.get()) is not None:
            job(admin, item)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
