"""Building the dataset service from the settings."""

from __future__ import annotations

import os
from pathlib import Path

from slipway._config import Settings
from slipway.datasets._service import DatasetService
from slipway.datasets._sources import SourcePolicy
from slipway.store._db import Database
from slipway.store.artifacts import ArtifactStore

ROOTS_ENV = "SLIPWAY_DATASET_ROOTS"


def service_for(settings: Settings, db: Database, artifacts: ArtifactStore) -> DatasetService:
    """The dataset service of a backend.

    ``SLIPWAY_DATASET_ROOTS`` (folders separated by ``os.pathsep``), read when the service is
    built, limits the local paths a registration may read; a shared server sets it so callers
    cannot make it read its own files. Unset, any local path the process can read is allowed.
    """
    del settings  # nothing of the shared settings concerns datasets yet
    roots = os.environ.get(ROOTS_ENV)
    policy = SourcePolicy(tuple(Path(p) for p in roots.split(os.pathsep) if p) if roots is not None else None)
    return DatasetService(db, artifacts, policy=policy)
