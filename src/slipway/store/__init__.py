"""Engines under every domain: the metadata database and the artifact store."""

from slipway.store._db import Database
from slipway.store._migrate import current_revision, head_revision, upgrade
from slipway.store._schema import metadata

__all__ = ["Database", "current_revision", "head_revision", "metadata", "upgrade"]
