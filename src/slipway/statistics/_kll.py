"""A KLL quantile sketch: mergeable, bounded memory, deterministic, stored as plain JSON arrays.

KLL (Karnin, Lang and Liberty, 2016) keeps a few "compactors" (levels). Level ``h`` holds items
that each stand for ``2**h`` original values. When a level grows past its capacity it is sorted
and every other item (starting at a random offset) moves one level up, which halves its size
while keeping every rank within a small error. Capacities shrink geometrically (factor ``c``)
from the top level (``k`` items) down, so the whole sketch holds about ``k / (1 - c)`` items
whatever the number of values.

The layout of :meth:`KllSketch.to_dict` is the managed cloud model monitor's
(``{"parameters": {"c", "k"}, "data": [[level 0], [level 1], ...]}``), so a sketch written by one
tool can be read and merged by the other.

This is written here rather than taken from Apache DataSketches so the levels are ours to
serialise in that layout, and merges read them back without a binary format in between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_K = 512
DEFAULT_C = 2 / 3
MIN_LEVEL_CAPACITY = 8
_SEED = 0x5EED


class KllSketch:
    """Approximate quantiles of a stream of floats.

    The rank of any value is known within :attr:`rank_error` (a fraction of the count) with 99%
    confidence: for the default ``k=512`` that is about 0.6%. Two sketches merge into the sketch
    of both streams with the same guarantee, so statistics over many files (or many capture
    windows) combine without reading the data again.

    Randomness comes from a fixed seed: the same values fed in the same chunks give the same
    sketch, which keeps stored statistics reproducible.

    Args:
        k: the top level's capacity; accuracy grows with it, and so does size (about ``3 k``
            floats with the default ``c``).
        c: the ratio between the capacities of neighbouring levels, in (0.5, 1).

    Example:
        >>> sketch = KllSketch()
        >>> sketch.update(np.arange(1_000_000, dtype=float))
        >>> abs(sketch.quantiles([0.5])[0] - 500_000) < 0.01 * 1_000_000
        True
    """

    def __init__(self, k: int = DEFAULT_K, c: float = DEFAULT_C) -> None:
        if k < MIN_LEVEL_CAPACITY:
            raise ValueError(f"k must be at least {MIN_LEVEL_CAPACITY}, not {k}")
        if not 0.5 < c < 1:
            raise ValueError(f"c must be in (0.5, 1), not {c}")
        self.k = int(k)
        self.c = float(c)
        self._levels: list[npt.NDArray[np.float64]] = [np.empty(0)]
        self._rng = np.random.default_rng(_SEED)
        self._sorted: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None  # see _weighted

    # -- building ---------------------------------------------------------------------------

    def update(self, values: npt.ArrayLike, *, presorted: bool = False) -> None:
        """Add values (NaN must already be removed: it has no rank).

        A chunk much larger than ``k`` is first compacted on its own: sorted once, it halves by
        taking every other item, level after level, until it fits; only that small remainder
        joins the sketch's levels. This costs one sort per chunk instead of one per level.

        Args:
            values: the values to add.
            presorted: the caller guarantees ``values`` are sorted ascending (skips the sort).
        """
        array = np.asarray(values, dtype=np.float64).ravel()
        if not array.size:
            return
        if not presorted:
            array = np.sort(array)
        pieces: list[npt.NDArray[np.float64]] = []
        while array.size > self.k:
            keep = array.size % 2  # an odd item stays behind, so no weight is lost
            pieces.append(array[:keep])
            array = array[keep + int(self._rng.integers(2)):: 2]
        pieces.append(array)
        while len(self._levels) < len(pieces):
            self._levels.append(np.empty(0))
        for h, piece in enumerate(pieces):
            if piece.size:
                self._levels[h] = np.concatenate((self._levels[h], piece))
        self._compress()

    def merge(self, other: KllSketch) -> KllSketch:
        """A new sketch of both streams; neither input changes.

        The result takes the larger ``k`` (and its ``c``): merging never loses accuracy that
        either side had.

        Raises:
            TypeError: if ``other`` is not a :class:`KllSketch`.
        """
        if not isinstance(other, KllSketch):
            raise TypeError(f"cannot merge a KllSketch with {type(other).__name__}")
        big = self if self.k >= other.k else other
        merged = KllSketch(big.k, big.c)
        depth = max(len(self._levels), len(other._levels))
        merged._levels = [
            np.concatenate([s._levels[h] for s in (self, other) if h < len(s._levels)]) for h in range(depth)
        ]
        merged._compress()
        return merged

    def _capacity(self, level: int) -> int:
        depth = len(self._levels)
        return max(MIN_LEVEL_CAPACITY, math.ceil(self.k * self.c ** (depth - 1 - level)))

    def _compress(self) -> None:
        """Compact the lowest level over capacity until none is.

        A level holding many more items than its capacity (a large chunk just arrived) is
        compacted whole: one compaction of any size adds at most one unit of its weight to any
        rank's error, so this is as accurate as many small ones and much faster.
        """
        self._sorted = None
        while True:
            over = next((h for h, lvl in enumerate(self._levels) if len(lvl) > self._capacity(h)), None)
            if over is None:
                return
            if over + 1 == len(self._levels):
                self._levels.append(np.empty(0))
            ordered = np.sort(self._levels[over])
            keep = len(ordered) % 2  # an odd item stays behind, so no weight is lost
            start = keep + int(self._rng.integers(2))
            self._levels[over] = ordered[:keep]
            self._levels[over + 1] = np.concatenate((self._levels[over + 1], ordered[start::2]))

    # -- reading ----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """How many values went in (exactly)."""
        return sum(len(lvl) << h for h, lvl in enumerate(self._levels))

    @property
    def size(self) -> int:
        """How many items the sketch holds (its memory, in floats)."""
        return sum(len(lvl) for lvl in self._levels)

    @property
    def rank_error(self) -> float:
        """The normalised rank error bound at 99% confidence (DataSketches' formula for KLL)."""
        return 2.296 / self.k**0.9723

    def _weighted(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """All items sorted, with the cumulative weight up to and including each.

        Kept until the sketch changes: a drift check asks for many ranks of the same sketch.
        """
        if self._sorted is None:
            items = np.concatenate(self._levels)
            weights = np.concatenate([np.full(len(lvl), float(1 << h)) for h, lvl in enumerate(self._levels)])
            order = np.argsort(items)
            self._sorted = (items[order], np.cumsum(weights[order]))
        return self._sorted

    def quantiles(self, fractions: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The values at the given ranks (fractions in [0, 1]); NaN for an empty sketch.

        Raises:
            ValueError: if a fraction is outside [0, 1].
        """
        qs = np.asarray(fractions, dtype=np.float64)
        if np.any((qs < 0) | (qs > 1)):
            raise ValueError("quantile fractions must be in [0, 1]")
        items, cumulative = self._weighted()
        if not items.size:
            return np.full(qs.shape, np.nan)
        index = np.searchsorted(cumulative, qs * cumulative[-1], side="left")
        return items[np.clip(index, 0, items.size - 1)]

    def cdf(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The fraction of values ``<= point`` for each point; NaN for an empty sketch."""
        xs = np.asarray(points, dtype=np.float64)
        items, cumulative = self._weighted()
        if not items.size:
            return np.full(xs.shape, np.nan)
        index = np.searchsorted(items, xs, side="right")
        below = np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0)
        return np.asarray(below / cumulative[-1], dtype=np.float64)

    # -- storing ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The cloud monitor's layout: ``{"parameters": {"c", "k"}, "data": [[...], ...]}``."""
        return {
            "parameters": {"c": self.c, "k": self.k},
            "data": [lvl.tolist() for lvl in self._levels],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KllSketch:
        """Rebuild a sketch from :meth:`to_dict`'s layout (as read from ``statistics.json``).

        Raises:
            ValueError: if the layout is not a KLL sketch's.
        """
        try:
            params = data["parameters"]
            sketch = cls(int(params["k"]), float(params["c"]))
            levels = [np.asarray(level, dtype=np.float64) for level in data["data"]]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a KLL sketch: missing or malformed {exc}") from None
        sketch._levels = levels or [np.empty(0)]
        sketch._compress()
        return sketch

    def __repr__(self) -> str:
        return f"KllSketch(k={self.k}, count={self.count}, size={self.size})"
