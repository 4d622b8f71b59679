"""Building the feature service from the settings."""

from __future__ import annotations

from slipway._config import Settings
from slipway.datasets import DatasetService
from slipway.features._offline import OfflineStore
from slipway.features._online_url import online_store_from_url
from slipway.features._service import FeatureService
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore


def service_for(settings: Settings, db: Database, artifacts: ArtifactStore, datasets: DatasetService) -> FeatureService:
    """The feature service of a backend.

    The online store is the settings' ``online_url`` (``SLIPWAY_ONLINE_URL``). Offline files are
    cached for DuckDB under ``<home>/cache/features``.
    """
    offline = OfflineStore(artifacts, settings.home / "cache" / "features")
    return FeatureService(db, offline, online_store_from_url(settings.online_url), datasets)
