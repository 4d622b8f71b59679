"""Engines under every domain: the metadata database and the artifact store."""

from typing import Any

from slipway.store._db import Database
from slipway.store._schema import metadata

_MIGRATION_API = ("current_revision", "head_revision", "upgrade")


def __getattr__(name: str) -> Any:
    # Alembic takes most of a second to import: load it only when migrations are asked for.
    if name in _MIGRATION_API:
        from slipway.store import _migrate

        return getattr(_migrate, name)
    raise AttributeError(f"module 'slipway.store' has no attribute {name!r}")


__all__ = ["Database", "current_revision", "head_revision", "metadata", "upgrade"]
