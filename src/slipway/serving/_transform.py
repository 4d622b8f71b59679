"""Batch transform: a model version over a whole data set, chunk by chunk, recorded as a new dataset.

The input (a CSV or Parquet file, or a registered dataset version) is read in chunks of
``chunk_rows`` rows, so it may be larger than memory; each chunk is checked against the model's
signature and predicted, and its rows, with the predictions in ``prediction`` (or one column per
model output, prefixed ``prediction_``), are appended to a Parquet file. That file is registered as
the next version of the output dataset, derived from the model version and, for a dataset input,
from the input version.

Works the same embedded and remote: it needs only ``load_model`` / ``resolve`` of a registry and
``register`` / ``download`` / ``get_version`` of a dataset service, which both modes offer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from slipway._kinds import ObjectKind
from slipway._references import ModelUri, VersionRef
from slipway.datasets import read_frames
from slipway.errors import InvalidInput, NotFound
from slipway.models import LoadedModel
from slipway.serving._transform_blocks import predict_on_ray

DATASET_SCHEME = "dataset:"


class _Registry(Protocol):
    def resolve(self, uri: str) -> Any: ...
    def load_model(self, uri: str) -> LoadedModel: ...


class _Datasets(Protocol):
    def register(
        self,
        name: str,
        data: Any,
        *,
        description: str | None = None,
        derived_from: Sequence[tuple[str, str]] = (),
        source: str | None = None,
    ) -> Any: ...
    def get_version(self, name: str, version: int | None = None) -> Any: ...
    def download(self, name: str, version: int | None, dst: Path) -> Path: ...


def batch_transform(
    registry: _Registry,
    datasets: _Datasets,
    model: str,
    source: str,
    output: str,
    *,
    chunk_rows: int = 100_000,
    progress: Callable[[int, int | None], None] | None = None,
    engine: str = "local",
) -> Any:
    """Predict ``model`` over ``source`` and register the result as dataset ``output``.

    Args:
        model: ``GROUP/VERSION`` or a ``models:/`` URI.
        source: a local ``.csv`` or ``.parquet`` file, or ``dataset:NAME`` / ``dataset:NAME:VERSION``.
        output: the dataset the rows and their predictions become the next version of.
        chunk_rows: rows read, predicted and written at a time.
        progress: called after each chunk with the rows done and the total (None when unknown).
        engine: ``local`` (this process, chunk by chunk) or ``ray``: ``source`` may then also be a
            folder or an ``s3://`` prefix of CSV or Parquet files, predicted per block by a pool of
            Ray actors that each load the model once (see :mod:`slipway.serving._transform_blocks`);
            rows come back in input order, as with the local engine.

    Returns:
        the output dataset's :class:`~slipway.datasets.Registration`.

    Raises:
        InvalidInput: for a source of another kind, or rows that fail the model's signature
            (naming the column).
        NotFound: for a model version, dataset or file that does not exist.

    Example:
        >>> batch_transform(client.registry, client.datasets, "abalone/3", "shells.parquet", "rings-predicted")
    """
    if chunk_rows < 1:
        raise InvalidInput("chunk_rows must be at least 1", field="chunk_rows")
    if engine not in ("local", "ray"):
        raise InvalidInput(f"unknown engine {engine!r}: use local or ray", field="engine")
    if engine == "ray" and source.startswith(DATASET_SCHEME):
        raise InvalidInput("the ray engine reads a file, a folder or an s3:// prefix", field="source")
    uri = str(ModelUri.of(model))
    version = registry.resolve(uri)
    loaded = registry.load_model(uri)
    derived = [(ObjectKind.MODEL_VERSION, version.id)]
    with tempfile.TemporaryDirectory(prefix="slipway-transform-") as tmp:
        if engine == "ray":
            tables = predict_on_ray(loaded, source, chunk_rows, _with_predictions)
            total, input_ref = None, None
        else:
            chunks, total, input_ref = _chunks(datasets, source, chunk_rows, Path(tmp))
            tables = (
                pa.Table.from_pandas(_with_predictions(chunk, loaded.predict(chunk)), preserve_index=False)
                for chunk in chunks
            )
        target = Path(tmp) / "predictions.parquet"
        done = 0
        writer: pq.ParquetWriter | None = None
        try:
            for table in tables:
                writer = writer or pq.ParquetWriter(target, table.schema)
                writer.write_table(table)
                done += table.num_rows
                if progress is not None:
                    progress(done, total)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise InvalidInput(f"{source} holds no rows", field="source")
        if input_ref is not None:
            derived.append(input_ref)
        return datasets.register(
            output,
            target,
            description=f"{version.uri} over {source}",
            derived_from=derived,
            source=f"transform of {source} by {version.uri}",
        )


def _with_predictions(chunk: pd.DataFrame, predictions: Any) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        named = predictions.add_prefix("prediction_").set_axis(chunk.index)
        return pd.concat([chunk, named], axis=1)
    values = np.asarray(predictions)
    if values.ndim == 1:
        return chunk.assign(prediction=values)
    extra = pd.DataFrame(values.reshape(len(chunk), -1), index=chunk.index)
    return pd.concat([chunk, extra.add_prefix("prediction_")], axis=1)


def _chunks(
    datasets: _Datasets, source: str, rows: int, scratch: Path
) -> tuple[Iterator[pd.DataFrame], int | None, tuple[ObjectKind, str] | None]:
    """The source's chunks, its row count when known, and its lineage node when it is a dataset.

    A dataset version is downloaded into ``scratch`` first: Parquet is read by seeking, which a
    remote download stream cannot do.
    """
    if source.startswith(DATASET_SCHEME):
        name, number = VersionRef.parse(source[len(DATASET_SCHEME) :], "source")
        found = datasets.get_version(name, number)
        path = datasets.download(name, found.version, scratch / "input.parquet")
        return read_frames(path, rows), pq.ParquetFile(path).metadata.num_rows, (ObjectKind.DATASET_VERSION, found.id)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidInput(
            f"transform reads .csv or .parquet files, or dataset:NAME[:VERSION], not {source!r}", field="source"
        )
    if not path.is_file():
        raise NotFound(f"no file {source!r}", field="source")
    total = None if suffix == ".csv" else pq.ParquetFile(path).metadata.num_rows
    return read_frames(path, rows), total, None
