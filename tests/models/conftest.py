"""Data for the model-packaging tests: the abalone set shipped in the package, and small arrays."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def abalone() -> pd.DataFrame:
    """The first 400 abalone rows: enough to train on, quick to fit."""
    with (files("slipway") / "_data" / "abalone.csv").open() as f:
        return pd.read_csv(f).head(400)


@pytest.fixture(scope="session")
def numeric_xy() -> tuple[np.ndarray, np.ndarray]:
    """A small float regression problem as plain arrays."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(scale=0.1, size=120)
