"""Registry fixtures: the service over SQLite and PostgreSQL, and a small model package to register."""

from pathlib import Path

import numpy as np
import pytest
from _registry_workers import make_registry
from sklearn.linear_model import LinearRegression

from slipway.models import save_model
from slipway.registry import RegistryService
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage
from slipway.tracking import TrackingService


@pytest.fixture
def registry(db: Database, tmp_path: Path) -> RegistryService:
    """The registry service over SQLite and over PostgreSQL (the store conformance suite)."""
    return make_registry(db, tmp_path)


@pytest.fixture
def tracking(db: Database, tmp_path: Path) -> TrackingService:
    """Tracking over the same engines as ``registry``, for source runs."""
    return TrackingService(db, ArtifactStore(db, LocalStorage(tmp_path / "artifacts")))


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package folder written once: registering a folder skips packaging, which keeps tests fast."""
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])
    folder = tmp_path_factory.mktemp("package") / "line"
    save_model(LinearRegression().fit(X, X @ [2.0, -1.0] + 0.5), folder, input_example=X)
    return folder
