"""Batch transform on Ray: a folder of files predicted per block by actors that each load the model once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _serving_models import register

from slipway import Client, load_settings
from slipway.serving import batch_transform

pytestmark = pytest.mark.ray


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"))) as made:
        yield made


def test_a_folder_is_predicted_per_block_on_ray_as_in_one_process(
    ray_cluster: Any, client: Client, package: Path, tmp_path: Path
) -> None:
    model = register(client.registry, package)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    folder = tmp_path / "rows"
    folder.mkdir()
    for i in range(3):
        ids = np.arange(i * 400, (i + 1) * 400)
        part = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400), "id": ids})
        part.to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=200)
    made = batch_transform(client.registry, client.datasets, model, str(folder), "scored", chunk_rows=150, engine="ray")
    out = client.datasets.load("scored").sort_values("id", ignore_index=True)
    assert made.version.num_rows == 1200 and list(out.columns) == ["a", "b", "id", "prediction"]
    assert out.id.tolist() == list(range(1200))
    np.testing.assert_allclose(out.prediction, out.a * 2 - out.b + 0.5, atol=1e-9)
    version = client.registry.get_version("line", 1)
    upstream = client.backend.lineage.upstream("dataset_version", made.version.id, depth=1)
    assert ("model_version", version.id) in {e.src for e in upstream.edges}
