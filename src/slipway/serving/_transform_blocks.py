"""Batch transform past one process: blocks of a folder or ``s3://`` prefix predicted on Ray Data.

The data is cut into blocks as monitoring's statistics are (a CSV or JSON-lines file each, a
Parquet file into pieces of whole row groups); a pool of Ray actors, each holding the model
(deserialized once per actor, not once per block), predicts each block a chunk at a time and
sends back its rows with the predictions, which the caller writes into one Parquet file, in input
order: Ray Data hands the blocks back in the order they went out, a block that ends early waiting
for those before it. The model must pickle (scikit-learn,
XGBoost, LightGBM and pyfunc models do; an ONNX session or a TorchScript module does not).
The S3 settings of the calling process travel with the blocks, as for monitoring on Ray.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pandas as pd
import pyarrow as pa

from slipway._ray import connect_ray
from slipway.datasets import DataFile, data_files
from slipway.errors import InvalidInput
from slipway.models import LoadedModel

BLOCK_ROWS = 1_000_000
_S3_ENV = ("SLIPWAY_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")


class _Predictor:
    """A Ray actor of the pool: the model, loaded once, and what to do with each block."""

    def __init__(self, model: bytes, chunk_rows: int, with_predictions: Any) -> None:
        self.model: LoadedModel = pickle.loads(model)
        self.chunk_rows = chunk_rows
        self.with_predictions = with_predictions

    def __call__(self, batch: dict[str, Any]) -> pa.Table:
        tables = []
        for env, blob in zip(batch["env"], batch["block"], strict=True):
            os.environ.update(pickle.loads(env))
            block: DataFile = pickle.loads(blob)
            for frame in _frames(block, self.chunk_rows):
                predicted = self.with_predictions(frame, self.model.predict(frame))
                tables.append(pa.Table.from_pandas(predicted, preserve_index=False))
        return pa.concat_tables(tables)


def _frames(block: DataFile, rows: int) -> Iterator[pd.DataFrame]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in block.batches():
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending).to_pandas()


def predict_on_ray(
    model: LoadedModel, source: str, chunk_rows: int, with_predictions: Any, *, workers: int | None = None
) -> Iterator[pa.Table]:
    """Each block of ``source`` with its predictions, in input order.

    Args:
        workers: actors in the pool (each holds the model); by default one per CPU of the cluster.

    Raises:
        InvalidInput: for a model that does not pickle (``field="model"``).
    """
    try:
        payload = cloudpickle.dumps(model)
    except Exception as exc:
        raise InvalidInput(
            f"the ray engine sends the model to its workers, and this one does not pickle ({type(exc).__name__}); "
            "use the local engine", field="model",
        ) from None
    blocks = [piece for file in data_files(source) for piece in file.pieces(BLOCK_ROWS)]
    cluster = connect_ray()
    import ray.data

    env = pickle.dumps({k: os.environ[k] for k in _S3_ENV if k in os.environ})
    items = [{"block": pickle.dumps(block), "env": env} for block in blocks]
    size = workers or max(1, min(len(items), int(cluster.cluster_resources().get("CPU", 1))))
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    # Blocks leave in input order (files in order, a file's pieces in order), whichever actor ends
    # first; set on this dataset's own copy of Ray Data's context, so no other use of Ray Data changes.
    dataset.context.execution_options.preserve_order = True
    predicted = dataset.map_batches(
        _Predictor,
        fn_constructor_args=(payload, chunk_rows, with_predictions),
        batch_size=1,
        batch_format="numpy",
        # An actor takes the next block once it is free: a slow block holds none queued behind it.
        compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
    )
    yield from predicted.iter_batches(batch_size=None, batch_format="pyarrow")
