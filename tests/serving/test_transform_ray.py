"""Batch transform on Ray: a folder of files predicted per block by actors that each load the model once."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _serving_models import register

from slipway import Client, load_settings
from slipway.serving import batch_transform
from slipway.serving._transform_blocks import predict_on_ray

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
    sizes = [4000, 400, 400, 400]  # the first block is the last to end: the rows still leave in input order
    for i, size in enumerate(sizes):
        ids = np.arange(sum(sizes[:i]), sum(sizes[: i + 1]))
        part = pd.DataFrame({"a": rng.normal(size=size), "b": rng.normal(size=size), "id": ids})
        part.to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=200)
    made = batch_transform(client.registry, client.datasets, model, str(folder), "scored", chunk_rows=150, engine="ray")
    out = client.datasets.load("scored")
    assert made.version.num_rows == sum(sizes) and list(out.columns) == ["a", "b", "id", "prediction"]
    assert out.id.tolist() == list(range(sum(sizes)))  # in input order, as the local engine writes them
    np.testing.assert_allclose(out.prediction, out.a * 2 - out.b + 0.5, atol=1e-9)
    version = client.registry.get_version("line", 1)
    upstream = client.backend.lineage.upstream("dataset_version", made.version.id, depth=1)
    assert ("model_version", version.id) in {e.src for e in upstream.edges}


class _FirstBlockEndsLast:
    """A model whose first block (the rows from id 0) ends only after the last one (at most 60 s later)."""

    def __init__(self, marker: Path, last_id: int) -> None:
        self.marker, self.last_id = marker, last_id

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.id.iloc[0] == 0:
            deadline = time.monotonic() + 60
            while not self.marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.marker.exists():
                self.marker.with_suffix(".after").touch()
        if frame.id.iloc[-1] == self.last_id:
            self.marker.touch()
        return np.zeros(len(frame))


def test_rows_leave_in_input_order_whichever_block_ends_first(ray_cluster: Any, tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    for i in range(4):
        pd.DataFrame({"id": np.arange(i * 100, (i + 1) * 100)}).to_parquet(folder / f"part-{i}.parquet", index=False)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actors cannot import this test module
    try:
        model = _FirstBlockEndsLast(tmp_path / "last-done", 399)
        tables = list(predict_on_ray(model, str(folder), 100, lambda rows, got: rows.assign(prediction=got)))  # type: ignore[arg-type]
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert (tmp_path / "last-done.after").exists()  # the first block ended after the last
    assert pa.concat_tables(tables).column("id").to_pylist() == list(range(400))
