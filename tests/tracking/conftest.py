from pathlib import Path

import pytest

from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService


@pytest.fixture
def tracking(db: Database, tmp_path: Path) -> TrackingService:
    """The tracking service over SQLite and over PostgreSQL (the store conformance suite)."""
    return TrackingService(db, ArtifactStore(db, LocalStorage(tmp_path / "artifacts")))
