"""Fixtures for the monitor's tests: the bundled abalone data and a copy drifted on known columns."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from _webhook import Hook

DRIFTED = {"length", "rings", "shell weight"}


@pytest.fixture(scope="session")
def abalone() -> pd.DataFrame:
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        return pd.read_csv(handle)


@pytest.fixture(scope="session")
def drifted_columns() -> set[str]:
    """The columns :func:`drifted` changes."""
    return set(DRIFTED)


@pytest.fixture(scope="session")
def drifted(abalone: pd.DataFrame) -> pd.DataFrame:
    """A random half of the data, scaled, shifted and shifted again on the columns of ``DRIFTED``."""
    sample = abalone.sample(frac=0.5, random_state=np.random.default_rng(7)).reset_index(drop=True)
    sample["length"] = sample["length"] * 1.25
    sample["rings"] = sample["rings"] + 3
    sample["shell weight"] = sample["shell weight"] + 0.1
    return sample


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A webhook receiver on 127.0.0.1."""
    receiver = Hook()
    yield receiver
    receiver.close()
