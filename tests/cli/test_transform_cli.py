"""``slipway transform`` in embedded mode: a CSV through a model version into a new dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _serving_models import register, write_line
from typer.testing import Result

from slipway import Client


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_line(tmp_path_factory.mktemp("transform-cli") / "line")


def test_transform_writes_a_dataset_version(
    cli: Callable[..., Result], client: Client, package: Path, tmp_path: Path
) -> None:
    model = register(client.registry, package)  # type: ignore[arg-type]
    source = tmp_path / "rows.csv"
    source.write_text("a,b\n1,2\n3,1\n")
    result = cli("transform", "-m", model, "-i", str(source), "-o", "scored", "--chunk-rows", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["version"]["num_rows"] == 2
    assert client.datasets.load("scored").prediction.round(6).tolist() == [0.5, 5.5]
    missing = cli("transform", "-m", model, "-i", str(tmp_path / "nope.csv"), "-o", "scored")
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr
