"""Where a tuning job's Optuna study lives when its trials run in other processes: Optuna's own RDB
storage, on the metadata database's engine.

Optuna keeps its tables (``studies``, ``trials``, ...) and its own Alembic version table, which
would collide with Slipway's, so the study is kept beside the metadata, never among it:

- PostgreSQL: the same database, in the schema ``slipway_optuna`` (created on first use);
- SQLite: the file ``<metadata file stem>-optuna.db`` next to the metadata file, in WAL mode.

Every process of a job (the step's own, each trial's) opens the storage from the same settings;
storages are cached per process and URL, so a warm worker keeps its connection pool. Optuna's
own tools read the studies there (``optuna-dashboard postgresql+psycopg://.../db?options=...``).

A study of an execution Slipway orchestrates is named ``slipway-<execution id>-<job's run id>``
(:func:`study_name`), so garbage collection knows whose it is: once its execution is deleted (by
the retention policy), the study goes too (``PipelineService.stale_studies``). Other studies in
the storage (an exported pipeline's, one made by hand) are never touched.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

OPTUNA_SCHEMA = "slipway_optuna"
_STORAGES: dict[str, Any] = {}
_LOCK = threading.Lock()
_OF_EXECUTION = re.compile(r"slipway-([0-9a-z]{26})-[0-9a-z]{26}")


def study_name(job_run: str, execution_id: str | None) -> str:
    """The name of a tuning job's shared study: ``slipway-<execution>-<run>`` for an execution of
    Slipway's runner, ``slipway-<run>`` otherwise (garbage collection leaves those alone)."""
    return f"slipway-{job_run}" if execution_id is None else f"slipway-{execution_id}-{job_run}"


def execution_of(name: str) -> str | None:
    """The execution a study named by :func:`study_name` belongs to; None for any other study."""
    found = _OF_EXECUTION.fullmatch(name)
    return found.group(1) if found else None


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


def study_names(db_url: str) -> list[str]:
    """The names of the studies in the storage beside ``db_url``; none if it was never made (nor is it made)."""
    if not _exists(db_url):
        return []
    import optuna

    return list(optuna.get_all_study_names(open_storage(db_url)))


def delete_study(db_url: str, name: str) -> bool:
    """Delete the study ``name`` with its trials; False if there was none."""
    if not _exists(db_url):
        return False
    import optuna

    try:
        optuna.delete_study(study_name=name, storage=open_storage(db_url))
    except KeyError:  # Optuna's answer for a study that does not exist
        return False
    return True


def _exists(db_url: str) -> bool:
    """Whether the storage has been made (by a tuning job's first study)."""
    try:
        url, options = study_location(db_url)
    except ValueError:
        return False
    if url.get_backend_name() == "sqlite":
        return url.database is not None and Path(url.database).exists()
    engine = create_engine(url, **options)
    try:
        return inspect(engine).has_table("studies", schema=OPTUNA_SCHEMA)
    finally:
        engine.dispose()


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
