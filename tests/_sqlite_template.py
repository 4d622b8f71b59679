"""Fresh SQLite stores start as a copy of one migrated file, not by running every migration again.

Most tests open a store of their own (a fresh ``SLIPWAY_HOME``, a ``sqlite_db``), and migrating an
empty SQLite file costs about 0.2 s of CPU and up to a second of wall time: over the suite, minutes.
The first fresh store of a test process runs the real migrations into a template file; every later
one copies it (milliseconds). The copy is what the migrations wrote, byte for byte, so the schema the
tests see is the migrations' own; tests of the migration itself (marked ``migrations``) still run
them, and so does every subprocess (the CLI, workers, servers), which never load this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import slipway.store._migrate as migrate
from slipway.store import Database

_real_ensure_current: Callable[[Database], None] = migrate.ensure_current
_template: Path | None = None
_template_lock = threading.Lock()
enabled = True  # off for the tests marked ``migrations`` (see tests/conftest.py)


def _fresh_file(db: Database) -> Path | None:
    """The SQLite file ``db`` would create on first use, or None (not SQLite, in memory, or already there)."""
    database = db.url.database
    if db.dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() and path.stat().st_size else path


def _migrated_template(folder: Path) -> Path:
    """The process's template: a file brought to the newest revision by the real migrations, fully checkpointed."""
    global _template
    with _template_lock:
        if _template is None:
            path = folder / "template.db"
            db = Database(f"sqlite:///{path}")
            migrate.upgrade(db)
            db.dispose()
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file: one file to copy
            _template = path
        return _template


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """The lock the real migration takes on this file, so two stores opening it at once copy it once."""
    with path.with_suffix(".migrate.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_current(db: Database) -> None:
    """:func:`slipway.store._migrate.ensure_current`, starting a fresh SQLite file from the template."""
    path = _fresh_file(db) if enabled else None
    if path is not None:
        template = _migrated_template(_folder())
        with _file_lock(path):
            if _fresh_file(db) is not None:
                fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".template-")
                os.close(fd)
                shutil.copyfile(template, partial)
                os.replace(partial, path)
                db.engine.dispose()  # no pooled connection may keep the empty file it opened before
    _real_ensure_current(db)


def _folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"slipway-test-template-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return folder


def install() -> None:
    """Route every store opened by this process through :func:`ensure_current`."""
    migrate.ensure_current = ensure_current


def uninstall() -> None:
    global _template
    migrate.ensure_current = _real_ensure_current
    if _template is not None:
        shutil.rmtree(_template.parent, ignore_errors=True)
        _template = None
