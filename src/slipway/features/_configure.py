"""Building the feature service from the settings."""

from __future__ import annotations

import os

from slipway._config import Settings
from slipway.datasets import DatasetService
from slipway.features._offline import OfflineStore
from slipway.features._online_url import online_store_from_url
from slipway.features._service import FeatureService
from slipway.store._db import Database
from slipway.store.artifacts import ArtifactStore

ONLINE_URL_ENV = "SLIPWAY_ONLINE_URL"


def service_for(settings: Settings, db: Database, artifacts: ArtifactStore, datasets: DatasetService) -> FeatureService:
    """The feature service of a backend.

    The online store is ``SLIPWAY_ONLINE_URL`` (read when the service is built:
    ``redis://host:port/db`` or ``sqlite:///path``), by default ``online.db`` under the home
    folder. Offline files are cached for DuckDB under ``<home>/cache/features``.
    """
    url = os.environ.get(ONLINE_URL_ENV) or f"sqlite:///{settings.home / 'online.db'}"
    offline = OfflineStore(artifacts, settings.home / "cache" / "features")
    return FeatureService(db, offline, online_store_from_url(url), datasets)
