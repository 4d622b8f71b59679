"""Batch transform: chunks of a CSV, a Parquet file or a dataset, predicted into a new dataset with lineage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving_models import register

from slipway import Client, InvalidInput, NotFound, load_settings
from slipway.serving import batch_transform


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"))) as made:
        yield made


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000), "id": np.arange(1000)})


def test_csv_in_chunks_with_progress_and_lineage(
    client: Client, package: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    model = register(client.registry, package)  # type: ignore[arg-type]
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    seen: list[tuple[int, int | None]] = []
    made = batch_transform(
        client.registry,
        client.datasets,
        model,
        str(source),
        "scored",
        chunk_rows=300,
        progress=lambda *p: seen.append(p),
    )
    assert seen == [(300, None), (600, None), (900, None), (1000, None)]
    out = client.datasets.load("scored")
    assert list(out.columns) == ["a", "b", "id", "prediction"] and len(out) == 1000
    np.testing.assert_allclose(out.prediction, rows.a * 2 - rows.b + 0.5, atol=1e-9)
    version = client.registry.get_version("line", 1)
    upstream = client.backend.lineage.upstream("dataset_version", made.version.id, depth=1)
    assert ("model_version", version.id) in {e.src for e in upstream.edges}


def test_dataset_and_parquet_inputs(client: Client, package: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    model = register(client.registry, package)  # type: ignore[arg-type]
    registered = client.datasets.register("inputs", rows)
    made = batch_transform(client.registry, client.datasets, f"models:/{model}", "dataset:inputs:1", "scored")
    upstream = client.backend.lineage.upstream("dataset_version", made.version.id, depth=1)
    assert ("dataset_version", registered.version.id) in {e.src for e in upstream.edges}
    rows.to_parquet(tmp_path / "rows.parquet")
    again = batch_transform(client.registry, client.datasets, model, str(tmp_path / "rows.parquet"), "scored")
    assert again.version.num_rows == 1000


def test_bad_sources_and_rows(client: Client, package: Path, tmp_path: Path) -> None:
    model = register(client.registry, package)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        batch_transform(client.registry, client.datasets, model, "rows.txt", "out")
    with pytest.raises(InvalidInput, match="NAME:VERSION") as bad_ref:  # once read as the latest "inputs"
        batch_transform(client.registry, client.datasets, model, "dataset:inputs:x", "out")
    assert bad_ref.value.field == "source"
    with pytest.raises(NotFound):
        batch_transform(client.registry, client.datasets, model, str(tmp_path / "nope.csv"), "out")
    (tmp_path / "bad.csv").write_text("a\n1\n")
    with pytest.raises(InvalidInput) as err:
        batch_transform(client.registry, client.datasets, model, str(tmp_path / "bad.csv"), "out")
    assert err.value.field == "b"
