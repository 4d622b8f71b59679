"""Column statistics shared by datasets and the model monitor: mergeable, streaming, JSON-stored.

:func:`compute_statistics` reads a table in chunks and returns :class:`DatasetStatistics`, which
serialises to the layout of the managed cloud monitor's ``statistics.json`` (see
``docs/statistics.md``) and merges with other statistics into those of the union of the rows.
"""

from slipway.statistics._column import ColumnStatistics, InferredType, SketchOptions, infer_type
from slipway.statistics._dataset import DatasetStatistics, compute_statistics, iter_batches
from slipway.statistics._frequent import FrequentItems
from slipway.statistics._hll import HyperLogLog, hash_values
from slipway.statistics._kll import KllSketch

__all__ = [
    "ColumnStatistics",
    "DatasetStatistics",
    "FrequentItems",
    "HyperLogLog",
    "InferredType",
    "KllSketch",
    "SketchOptions",
    "compute_statistics",
    "hash_values",
    "infer_type",
    "iter_batches",
]
