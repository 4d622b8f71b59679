"""Engines under every domain: the metadata database and the artifact store.

Domains use this package's surface only: :class:`Database` (transactions, error translation),
``metadata`` and ``BigIntPK`` to declare their tables, the portable statements
``insert_ignore`` and ``upsert``, :class:`Prepared` for statements on the hottest paths;
:class:`JobQueue`, the jobs a server hands to its workers, and :class:`JobInputs`, the data staged with them.
"""

from typing import Any

from slipway.store._db import Database, translate_errors
from slipway.store._job_inputs import JobInputs
from slipway.store._jobs import Job, JobQueue
from slipway.store._schema import BigIntPK, metadata
from slipway.store._sql import Prepared, insert_ignore, upsert

_MIGRATION_API = ("current_revision", "head_revision", "upgrade")


def __getattr__(name: str) -> Any:
    # Alembic takes most of a second to import: load it only when migrations are asked for.
    if name in _MIGRATION_API:
        from slipway.store import _migrate

        return getattr(_migrate, name)
    raise AttributeError(f"module 'slipway.store' has no attribute {name!r}")


__all__ = [
    "BigIntPK",
    "Database",
    "Job",
    "JobInputs",
    "JobQueue",
    "Prepared",
    "current_revision",
    "head_revision",
    "insert_ignore",
    "metadata",
    "translate_errors",
    "upgrade",
    "upsert",
]
