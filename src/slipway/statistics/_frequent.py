"""Frequent items (Misra-Gries): category counts in bounded memory, mergeable.

A column of categories usually has few distinct values, and then every count is exact. A column
with many (ids, free text) would need unbounded memory to count exactly; the Misra-Gries summary
keeps at most ``capacity`` counters instead. Whenever more would be needed, the
``(capacity + 1)``-th largest count is subtracted from all and the counters at or below zero are
dropped. Every kept count is then at most :attr:`FrequentItems.max_error` below the true count,
and every value more frequent than that is kept. Two summaries merge by adding counts and
reducing the same way (Agarwal et al., "Mergeable summaries", 2012).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_CAPACITY = 200


class FrequentItems:
    """Counts of the most frequent values of a stream.

    Args:
        capacity: the most counters kept; values beyond it are summarised by :attr:`max_error`.

    Example:
        >>> items = FrequentItems()
        >>> items.update(pa.array(["M", "F", "I"]), np.array([2, 1, 1]))
        >>> items.top(2)
        [('M', 2), ('F', 1)]
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.max_error = 0  # the total subtracted from each counter so far

    @property
    def exact(self) -> bool:
        """Whether every count is exact (no reduction ever happened)."""
        return self.max_error == 0

    def update(self, values: pa.Array, counts: npt.NDArray[np.int64]) -> None:
        """Add a chunk's counts: distinct text ``values`` and how often each occurred.

        Only the chunk's ``capacity + 1`` largest counts and the counts of values already kept
        can survive the reduction, so only those become Python objects: the work per chunk is
        bounded by the capacity, not by the chunk's number of distinct values.
        """
        if len(values) <= self.capacity + 1:
            self._add(dict(zip(values.to_pylist(), counts.tolist(), strict=True)), 0)
            return
        chosen = np.zeros(len(values), dtype=bool)
        chosen[np.argpartition(-counts, self.capacity)[: self.capacity + 1]] = True
        if self.counts:
            known = pc.is_in(values, value_set=pa.array(list(self.counts), type=values.type))
            chosen |= known.to_numpy(zero_copy_only=False)
        # The best of the rest: the reduction must subtract at least that much to forget them.
        rest_max = int(counts[~chosen].max()) if not chosen.all() else 0
        picked = np.flatnonzero(chosen)
        self._add(dict(zip(values.take(picked).to_pylist(), counts[picked].tolist(), strict=True)), rest_max)

    def merge(self, other: FrequentItems) -> FrequentItems:
        """The summary of both streams (capacity: the larger of the two); neither input changes."""
        merged = FrequentItems(max(self.capacity, other.capacity))
        merged.counts = dict(self.counts)
        merged.max_error = self.max_error
        merged._add(other.counts, 0)
        merged.max_error += other.max_error
        return merged

    def _add(self, counts: Mapping[str, int], dropped_max: int) -> None:
        """Add counts, then reduce to ``capacity`` counters.

        ``dropped_max`` is the largest count among values the caller left out; the reduction
        must subtract at least that much so that they are rightly forgotten.
        """
        for value, count in counts.items():
            self.counts[value] = self.counts.get(value, 0) + count
        cut = dropped_max
        if len(self.counts) > self.capacity:
            ordered = sorted(self.counts.values(), reverse=True)
            cut = max(cut, ordered[self.capacity])
        if cut:
            self.counts = {v: c - cut for v, c in self.counts.items() if c > cut}
            self.max_error += cut

    def top(self, n: int | None = None) -> list[tuple[str, int]]:
        """The ``n`` largest counts (all kept ones by default), largest first, ties by value."""
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return ordered if n is None else ordered[:n]

    def to_dict(self) -> dict[str, Any]:
        """The categorical distribution: ``{"buckets": [{"value", "count"}], ...}`` plus our bounds."""
        return {
            "buckets": [{"value": value, "count": count} for value, count in self.top()],
            "capacity": self.capacity,
            "max_error": self.max_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrequentItems:
        """Rebuild from :meth:`to_dict` (buckets of a file without our bounds count as exact).

        Raises:
            ValueError: if the buckets are malformed.
        """
        try:
            buckets = {str(b["value"]): int(b["count"]) for b in data.get("buckets", [])}
            items = cls(int(data.get("capacity", max(DEFAULT_CAPACITY, len(buckets)))))
            items.max_error = int(data.get("max_error", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a categorical distribution: {exc}") from None
        items.counts = buckets
        return items
