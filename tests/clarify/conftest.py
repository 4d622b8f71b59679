"""Fixtures for the clarify tests: the bundled abalone data, an embedded client, a registered abalone model."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from slipway import Client


@pytest.fixture(scope="session")
def abalone_data() -> pd.DataFrame:
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        return pd.read_csv(handle)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(home=tmp_path / "home") as c:
        yield c
