"""Where a tuning job's Optuna study lives when its trials run in other processes: Optuna's own RDB
storage, on the metadata database's engine.

Optuna keeps its tables (``studies``, ``trials``, ...) and its own Alembic version table, which
would collide with Slipway's, so the study is kept beside the metadata, never among it:

- PostgreSQL: the same database, in the schema ``slipway_optuna`` (created on first use);
- SQLite: the file ``<metadata file stem>-optuna.db`` next to the metadata file, in WAL mode.

Every process of a job (the step's own, each trial's) opens the storage from the same settings;
storages are cached per process and URL, so a warm worker keeps its connection pool. Optuna's
own tools read the studies there (``optuna-dashboard postgresql+psycopg://.../db?options=...``).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

OPTUNA_SCHEMA = "slipway_optuna"
_STORAGES: dict[str, Any] = {}
_LOCK = threading.Lock()


def study_location(db_url: str) -> tuple[URL, dict[str, Any]]:
    """The SQLAlchemy URL and engine options of the Optuna storage for the metadata database ``db_url``.

    Raises:
        ValueError: for a database that is not SQLite or PostgreSQL, or an in-memory SQLite one.
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot share a study between processes")
        path = Path(url.database)
        return url.set(database=str(path.with_name(f"{path.stem}-optuna.db"))), {}
    if url.get_backend_name() == "postgresql":
        return url, {"connect_args": {"options": f"-c search_path={OPTUNA_SCHEMA}"}}
    raise ValueError(f"Optuna studies are kept on SQLite or PostgreSQL, not {url.get_backend_name()}")


def open_storage(db_url: str, timeout: float = 30.0) -> Any:
    """Optuna's RDB storage beside the metadata database ``db_url`` (one per process and URL).

    Thread-safe; the first call in a process creates the schema or file and Optuna's tables.
    """
    import optuna

    with _LOCK:
        storage = _STORAGES.get(db_url)
        if storage is not None:
            return storage
        url, options = study_location(db_url)
        if url.get_backend_name() == "sqlite":
            assert url.database is not None
            with sqlite3.connect(url.database, timeout=timeout) as conn:  # WAL: readers never wait for a writer
                conn.execute("PRAGMA journal_mode=WAL")
            options = {"connect_args": {"timeout": timeout}}
        else:
            _create_schema(url)
        storage = optuna.storages.RDBStorage(url.render_as_string(hide_password=False), engine_kwargs=options)
        _STORAGES[db_url] = storage
        return storage


def _create_schema(url: URL) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    except sqlalchemy.exc.IntegrityError:
        pass  # another process created it at the same moment
    finally:
        engine.dispose()
