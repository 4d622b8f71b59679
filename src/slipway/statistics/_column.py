"""Statistics of one column, built chunk by chunk from Arrow arrays and merged without the data.

Numbers (``Integral``, ``Fractional``) keep count, sum, mean and the sum of squared deviations
(merged with Chan's formula, which stays accurate where the textbook sum of squares does not),
minimum, maximum, a KLL sketch for quantiles and histograms, and a HyperLogLog for the distinct
count. Everything else is a ``String``: its values as text, counted by a Misra-Gries summary, and
a HyperLogLog. NaN and infinities count as missing, like nulls: they have no place on a histogram.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.statistics._frequent import DEFAULT_CAPACITY, FrequentItems
from slipway.statistics._hll import DEFAULT_P, HyperLogLog, hash_values
from slipway.statistics._kll import DEFAULT_K, KllSketch

InferredType = Literal["Integral", "Fractional", "String"]
HISTOGRAM_BUCKETS = 10


@dataclasses.dataclass(frozen=True)
class SketchOptions:
    """Sizes of the sketches; larger is more accurate and bigger on disk.

    Attributes:
        kll_k: KLL's ``k`` (rank error about 0.6% at 512).
        hll_p: HyperLogLog's precision (``2**p`` registers; 1.6% error at 12).
        top_k: how many category counters a Misra-Gries summary keeps.
    """

    kll_k: int = DEFAULT_K
    hll_p: int = DEFAULT_P
    top_k: int = DEFAULT_CAPACITY


DEFAULT_OPTIONS = SketchOptions()


def infer_type(arrow_type: pa.DataType) -> InferredType:
    """Integers are Integral, floats and decimals Fractional, all else (text, bools, dates) String."""
    if pa.types.is_integer(arrow_type):
        return "Integral"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "Fractional"
    return "String"


class ColumnStatistics:
    """What is known of one column: counts, and numeric or categorical summaries.

    Build with :meth:`empty` and :meth:`update`; combine with :meth:`merge`, which returns a new
    object and leaves both inputs as they were.
    """

    def __init__(self, name: str, inferred_type: InferredType, options: SketchOptions = DEFAULT_OPTIONS) -> None:
        self.name = name
        self.inferred_type: InferredType = inferred_type
        self.num_present = 0
        self.num_missing = 0
        self.distinct = HyperLogLog(options.hll_p)
        self.sum = 0.0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean
        self.min = math.inf
        self.max = -math.inf
        self.kll: KllSketch | None = KllSketch(options.kll_k) if self.numeric else None
        self.frequent: FrequentItems | None = None if self.numeric else FrequentItems(options.top_k)

    @property
    def numeric(self) -> bool:
        return self.inferred_type != "String"

    @property
    def std_dev(self) -> float:
        """Population standard deviation (so it and the count give back ``m2`` exactly)."""
        return math.sqrt(self.m2 / self.num_present) if self.num_present else 0.0

    # -- building ---------------------------------------------------------------------------

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Add a chunk of the column's values."""
        if self.numeric:
            values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
            finite = values[np.isfinite(values)]
            self.num_missing += len(values) - finite.size
            self._add_numbers(finite)
        else:
            text = array if array.type == pa.string() else pc.cast(array, pa.string())
            present = pc.drop_null(text) if text.null_count else text
            self.num_missing += len(array) - len(present)
            self._add_texts(present)

    def _add_numbers(self, values: np.ndarray) -> None:
        n = values.size
        if not n:
            return
        ordered = np.sort(values)  # once, for the sketch, the extremes and the distinct values
        chunk_sum = float(ordered.sum())
        chunk_mean = chunk_sum / n
        chunk_m2 = float(np.square(ordered - chunk_mean).sum())
        self._combine_moments(n, chunk_sum, chunk_mean, chunk_m2)
        self.min = min(self.min, float(ordered[0]))
        self.max = max(self.max, float(ordered[-1]))
        assert self.kll is not None
        self.kll.update(ordered, presorted=True)
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        self.distinct.update(hash_values(ordered[first], unique=True))

    def _add_texts(self, values: pa.Array | pa.ChunkedArray) -> None:
        if not len(values):
            return
        self.num_present += len(values)
        counts = pc.value_counts(values)
        uniques = counts.field("values")
        self.distinct.update(hash_values(uniques.to_numpy(zero_copy_only=False), unique=True))
        assert self.frequent is not None
        self.frequent.update(uniques, counts.field("counts").to_numpy())

    def _combine_moments(self, n: int, total: float, mean: float, m2: float) -> None:
        """Chan et al.'s parallel update of count, mean and squared deviations."""
        before = self.num_present
        count = before + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * before * n / count
        self.mean += delta * n / count
        self.sum += total
        self.num_present = count

    # -- combining --------------------------------------------------------------------------

    def merge(self, other: ColumnStatistics) -> ColumnStatistics:
        """The statistics of both columns' values together.

        Integral and Fractional merge into Fractional.

        Raises:
            ValueError: if one is numeric and the other String.
        """
        if self.numeric != other.numeric:
            raise ValueError(
                f"column {self.name!r} is {self.inferred_type} on one side and {other.inferred_type} on the other"
            )
        same = self.inferred_type == other.inferred_type
        merged = ColumnStatistics.__new__(ColumnStatistics)
        merged.name = self.name
        merged.inferred_type = self.inferred_type if same else "Fractional"
        merged.num_present, merged.mean, merged.m2, merged.sum = self.num_present, self.mean, self.m2, self.sum
        merged.num_missing = self.num_missing + other.num_missing
        if other.num_present:
            merged._combine_moments(other.num_present, other.sum, other.mean, other.m2)
        merged.min, merged.max = min(self.min, other.min), max(self.max, other.max)
        merged.distinct = self.distinct.merge(other.distinct)
        merged.kll = self.kll.merge(other.kll) if self.kll is not None and other.kll is not None else None
        merged.frequent = (
            self.frequent.merge(other.frequent) if self.frequent is not None and other.frequent is not None else None
        )
        return merged

    def with_missing(self, rows: int) -> ColumnStatistics:
        """These statistics with ``rows`` more missing values (a side where the column is absent)."""
        copy = self.merge(ColumnStatistics(self.name, self.inferred_type, self.options))
        copy.num_missing += rows
        return copy

    @property
    def options(self) -> SketchOptions:
        """The sketch sizes of this column, for building a compatible empty one."""
        return SketchOptions(
            kll_k=self.kll.k if self.kll is not None else DEFAULT_K,
            hll_p=self.distinct.p,
            top_k=self.frequent.capacity if self.frequent is not None else DEFAULT_CAPACITY,
        )

    # -- reading ----------------------------------------------------------------------------

    def quantiles(self, fractions: list[float]) -> list[float]:
        """Approximate quantiles of a numeric column (see :class:`KllSketch`); [] for a String."""
        return [] if self.kll is None else [float(q) for q in self.kll.quantiles(fractions)]

    def histogram(self, buckets: int = HISTOGRAM_BUCKETS) -> list[dict[str, float]]:
        """Equal-width buckets from min to max, counts estimated from the sketch."""
        if self.kll is None or not self.num_present:
            return []
        edges = np.linspace(self.min, self.max, buckets + 1)
        below = self.kll.cdf(edges) * self.num_present
        below[0] = 0.0  # the first bucket is closed on the left: it holds the minimum
        below[-1] = float(self.num_present)
        counts = np.diff(below)
        return [
            {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(count)}
            for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True)
        ]

    # -- storing ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """This column as one entry of ``features`` in ``statistics.json``."""
        common = {"num_present": self.num_present, "num_missing": self.num_missing}
        distinct = {"distinct_count": round(self.distinct.estimate()), "distinct_sketch": self.distinct.to_dict()}
        entry: dict[str, Any] = {"name": self.name, "inferred_type": self.inferred_type}
        if self.kll is not None:
            present = self.num_present > 0
            entry["numerical_statistics"] = {
                "common": common,
                "mean": self.mean,
                "sum": self.sum,
                "std_dev": self.std_dev,
                "min": self.min if present else None,
                "max": self.max if present else None,
                **distinct,
                "distribution": {"kll": {"buckets": self.histogram(), "sketch": self.kll.to_dict()}},
            }
        else:
            assert self.frequent is not None
            entry["string_statistics"] = {
                "common": common,
                **distinct,
                "distribution": {"categorical": self.frequent.to_dict()},
            }
        return entry

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> ColumnStatistics:
        """Read one ``features`` entry back (ours, or the cloud monitor's own layout).

        A file from another tool carries no distinct-count sketch; the column then starts one
        afresh, so its distinct count only covers data merged in later.

        Raises:
            ValueError: if the entry lacks the fields of its type.
        """
        try:
            kind: InferredType = entry["inferred_type"]
            block = entry["numerical_statistics" if kind != "String" else "string_statistics"]
            column = cls(str(entry["name"]), kind)
            column.num_present = int(block["common"]["num_present"])
            column.num_missing = int(block["common"]["num_missing"])
            if "distinct_sketch" in block:
                column.distinct = HyperLogLog.from_dict(block["distinct_sketch"])
            if column.numeric:
                column.sum = float(block["sum"])
                column.mean = float(block["mean"])
                column.m2 = float(block["std_dev"]) ** 2 * column.num_present
                column.min = math.inf if block["min"] is None else float(block["min"])
                column.max = -math.inf if block["max"] is None else float(block["max"])
                column.kll = KllSketch.from_dict(block["distribution"]["kll"]["sketch"])
            else:
                column.frequent = FrequentItems.from_dict(block["distribution"]["categorical"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed statistics for feature {entry.get('name')!r}: missing {exc}") from None
        return column

    def __repr__(self) -> str:
        return (f"ColumnStatistics({self.name!r}, {self.inferred_type}, present={self.num_present}, "
                f"missing={self.num_missing})")
