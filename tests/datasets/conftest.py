from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from slipway.datasets import DatasetService
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage


@pytest.fixture
def datasets(db: Database, tmp_path: Path) -> DatasetService:
    """The dataset service over SQLite and over PostgreSQL."""
    return DatasetService(db, ArtifactStore(db, LocalStorage(tmp_path / "artifacts")))


@pytest.fixture
def abalone_csv() -> Path:
    with resources.as_file(resources.files("slipway").joinpath("_data/abalone.csv")) as path:
        return Path(path)


@pytest.fixture
def abalone(abalone_csv: Path) -> pd.DataFrame:
    return pd.read_csv(abalone_csv)
