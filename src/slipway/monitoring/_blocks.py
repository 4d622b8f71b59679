"""Statistics of data past one process: computed per block on Ray Data, then merged.

A folder or ``s3://`` prefix of Parquet, CSV or JSON-lines files is cut into blocks (a CSV or
JSON-lines file each; a Parquet file into pieces of whole row groups, about
:data:`BLOCK_ROWS` rows each); Ray Data computes each block's statistics where it runs, reading
the block in batches, and the driver merges them. Every sketch merges (see
:class:`~slipway.statistics.DatasetStatistics`), so the result is the single-process one: counts,
sums, means, deviations, minima and maxima exactly (up to floating-point summation order),
quantiles and distinct counts within their sketches' error bounds.

The S3 settings of the calling process (``SLIPWAY_S3_ENDPOINT_URL``, ``AWS_*`` credentials and
region) travel with the blocks, so the workers read the same objects.
"""

from __future__ import annotations

import functools
import os
import pickle
from typing import Any

from slipway._ray import connect_ray
from slipway.datasets import DataFile, data_files
from slipway.statistics import DatasetStatistics

ENGINES = ("local", "ray")
BLOCK_ROWS = 1_000_000
_S3_ENV = ("SLIPWAY_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")


def blocks_of(data: str | os.PathLike[str], format: str | None = None, rows: int = BLOCK_ROWS) -> list[DataFile]:
    """The blocks ``data`` is read in on Ray: its files, Parquet ones cut at row groups."""
    return [piece for file in data_files(data, format=format) for piece in file.pieces(rows)]


def _block_statistics(batch: dict[str, Any]) -> dict[str, Any]:
    """Ray Data's function: the statistics of each block named in ``batch`` (pickled, sketches and all)."""
    out = []
    for env, blob in zip(batch["env"], batch["block"], strict=True):
        os.environ.update(pickle.loads(env))
        block: DataFile = pickle.loads(blob)
        stats = DatasetStatistics()
        for part in block.batches():
            stats.update(part)
        out.append(pickle.dumps(stats))
    return {"statistics": out}


def statistics_on_ray(data: str | os.PathLike[str], *, format: str | None = None,
                      rows: int = BLOCK_ROWS) -> DatasetStatistics:
    """Statistics of a file, folder or ``s3://`` prefix, a block per Ray Data task, merged here.

    Uses the Ray cluster this process is connected to, or ``RAY_ADDRESS``, or a new local one.

    Raises:
        MissingExtra: without Ray installed.
        InvalidInput, NotFound: as :func:`~slipway.datasets.open_source` for the data.
    """
    blocks = blocks_of(data, format, rows)
    connect_ray()
    import ray.data

    env = pickle.dumps({k: os.environ[k] for k in _S3_ENV if k in os.environ})
    items = [{"block": pickle.dumps(block), "env": env} for block in blocks]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    done = dataset.map_batches(_block_statistics, batch_size=1, batch_format="numpy")
    parts = [pickle.loads(row["statistics"]) for row in done.iter_rows()]
    return functools.reduce(DatasetStatistics.merge, parts, DatasetStatistics())
