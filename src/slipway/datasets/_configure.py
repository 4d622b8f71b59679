"""Building the dataset service from the settings."""

from __future__ import annotations

from slipway._config import Settings
from slipway.datasets._service import DatasetService
from slipway.datasets._sources import SourcePolicy
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore


def service_for(settings: Settings, db: Database, artifacts: ArtifactStore) -> DatasetService:
    """The dataset service of a backend.

    The settings' ``dataset_roots`` (``SLIPWAY_DATASET_ROOTS``) limit the local paths a
    registration may read; a shared server sets it so callers cannot make it read its own files.
    Unset, any local path the process can read is allowed.
    """
    policy = SourcePolicy(settings.dataset_roots)
    return DatasetService(db, artifacts, policy=policy)
