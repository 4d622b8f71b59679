"""The tests share one throw-away Slipway store (so its worker processes start once), and each
test gets model and endpoint names of its own in it; the data is a small sample of abalone."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from slipway import Client

from model_build.config import ProjectConfig, load_config
from model_build.pipeline import BUNDLED_DATA


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """An embedded client on a fresh store, for the SDK and the CLI alike: tests never touch a real server."""
    with pytest.MonkeyPatch.context() as env:
        for variable in ("SLIPWAY_SERVER_URL", "SLIPWAY_DB_URL", "SLIPWAY_ARTIFACT_URL", "SLIPWAY_CONFIG"):
            env.delenv(variable, raising=False)
        env.setenv("SLIPWAY_HOME", str(tmp_path_factory.mktemp("slipway")))
        with Client() as c:
            yield c


@pytest.fixture
def config(request: pytest.FixtureRequest) -> ProjectConfig:
    """``project.toml``, with the model group and endpoints renamed after the test."""
    base = load_config()
    suffix = request.node.name.removeprefix("test_").replace("_", "-")[:30].rstrip("-")
    return dataclasses.replace(
        base,
        model_group=f"{base.model_group}-{suffix}",
        staging=dataclasses.replace(base.staging, endpoint=f"{base.staging.endpoint}-{suffix}"),
        production=dataclasses.replace(base.production, endpoint=f"{base.production.endpoint}-{suffix}"),
    )


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 rows of the bundled data: enough for a sensible model, small enough for a fast test."""
    path = tmp_path_factory.mktemp("data") / "sample.csv"
    pd.read_csv(BUNDLED_DATA).sample(400, random_state=0).to_csv(path, index=False)
    return path
