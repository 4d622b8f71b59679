"""One pass over the data: the counts every bias metric is computed from, and a sample for the flip test.

All metrics but the flip test are functions of how many rows fall in each cell of
*group × facet value × label positive × prediction positive*, so the data is read once, in
batches, and only that small table (and a bounded uniform sample of rows for the flip test's
nearest neighbours) is kept: a million rows take no more memory than a thousand.

Rows missing the label, the facet, the prediction or the group are left out and counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from slipway.clarify._config import BiasConfig, _interval
from slipway.errors import InvalidInput

FLIP_SAMPLE_ROWS = 20_000
"""Rows kept (uniformly at random, with a fixed seed) for the flip test's nearest-neighbour search."""
_SEED = 20


@dataclasses.dataclass(frozen=True)
class FacetSide:
    """One comparison: the rows of the sensitive group (``d``) against all others (``a``)."""

    value_or_threshold: str
    sensitive: npt.NDArray[np.bool_]  # over the facet codes


@dataclasses.dataclass
class Tally:
    """The counts ``cells[group, facet code, label positive, prediction positive]`` and the flip-test sample.

    Attributes:
        facet_codes: what each facet code stands for: the facet values in order of appearance,
            or ``[False, True]`` (outside, inside the sensitive group) for given values or a threshold.
        features: the feature columns of the sample (every column but label, facet, prediction).
        sample: the sampled rows' features; ``sample_facet`` and ``sample_predicted`` their facet
            code and positive prediction. ``feature_error`` says why there is no sample, if so.
    """

    config: BiasConfig
    cells: npt.NDArray[np.int64]
    facet_codes: list[Any]
    groups: list[Any]
    label_max: Any = None
    facet_max: Any = None
    dropped: int = 0
    features: list[str] = dataclasses.field(default_factory=list)
    sample: npt.NDArray[np.float64] | None = None
    sample_facet: npt.NDArray[np.int64] | None = None
    sample_predicted: npt.NDArray[np.bool_] | None = None
    sample_keys: npt.NDArray[np.float64] | None = None
    feature_error: str | None = None

    @property
    def rows(self) -> int:
        return int(self.cells.sum())

    def sides(self) -> list[FacetSide]:
        """The comparisons to report: one for given values or a threshold, else one per facet value."""
        cfg = self.config
        if cfg.facet_values is not None:
            return [FacetSide(",".join(map(str, cfg.facet_values)), np.array([False, True]))]
        if cfg.facet_threshold is not None:
            return [FacetSide(_interval(cfg.facet_threshold, self.facet_max), np.array([False, True]))]
        codes = len(self.facet_codes)
        return [FacetSide(str(value), np.arange(codes) == i) for i, value in enumerate(self.facet_codes)]


def tally(batches: Iterable[pa.RecordBatch], config: BiasConfig, *, post_training: bool) -> Tally:
    """Count the cells of ``batches`` (and sample rows for the flip test when ``post_training``).

    Raises:
        InvalidInput: for a missing column, or a threshold on a column that is not numeric.
    """
    state = _State(config, post_training)
    for batch in batches:
        state.add(batch)
    return state.result()


class _State:
    def __init__(self, config: BiasConfig, post_training: bool) -> None:
        self.config = config
        self.post = post_training
        if post_training and config.predicted_label is None:
            raise InvalidInput("post-training metrics need the predicted label column", field="predicted_label")
        self.cells = np.zeros((0, 0, 2, 2), dtype=np.int64)
        self.facets = _Codes(binary=config.facet_values is not None or config.facet_threshold is not None)
        self.groups = _Codes(binary=False) if config.group is not None else None
        self.label_max: Any = None
        self.facet_max: Any = None
        self.dropped = 0
        self.features: list[str] | None = None
        self.feature_error: str | None = None
        self.rng = np.random.default_rng(_SEED)
        self.sample: tuple[Any, ...] | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        cfg = self.config
        names = batch.schema.names
        missing = [c for c in cfg.columns() if c not in names and (c != cfg.predicted_label or self.post)]
        if missing:
            raise InvalidInput(f"the data has no column {', '.join(map(repr, missing))} (it has: "
                               f"{', '.join(names[:20])})", field=_field_of(cfg, missing[0]))
        wanted = [c for c in cfg.columns() if c in names and (c != cfg.predicted_label or self.post)]
        frame = batch.select(wanted).to_pandas()
        keep = frame.notna().all(axis=1).to_numpy()
        self.dropped += int((~keep).sum())
        if not keep.all():
            frame = frame[keep]
        if frame.empty:
            return
        label = _positive(frame[cfg.label], cfg.label_values, cfg.label_threshold, "label")
        if cfg.label_threshold is not None:
            self.label_max = _max(self.label_max, frame[cfg.label])
        if self.post:
            assert cfg.predicted_label is not None
            predicted = _positive(frame[cfg.predicted_label], cfg.label_values, cfg.label_threshold,
                                  "predicted_label")
        else:
            predicted = np.zeros(len(frame), dtype=np.int64)
        facet_column = frame[cfg.facet]
        if cfg.facet_values is not None or cfg.facet_threshold is not None:
            facet = _positive(facet_column, cfg.facet_values, cfg.facet_threshold, "facet").astype(np.int64)
            if cfg.facet_threshold is not None:
                self.facet_max = _max(self.facet_max, facet_column)
        else:
            facet = self.facets.encode(facet_column)
        group = self.groups.encode(frame[cfg.group]) if self.groups is not None else np.zeros(len(frame), np.int64)
        n_groups = len(self.groups.values) if self.groups is not None else 1
        n_facets = len(self.facets.values)
        self._grow(n_groups, n_facets)
        flat = ((group * n_facets + facet) * 2 + label) * 2 + predicted
        self.cells += np.bincount(flat, minlength=n_groups * n_facets * 4).reshape(n_groups, n_facets, 2, 2)
        if self.post:
            self._sample(batch, keep, facet, predicted)

    def _grow(self, n_groups: int, n_facets: int) -> None:
        g, f = self.cells.shape[:2]
        if (g, f) != (n_groups, n_facets):
            grown = np.zeros((n_groups, n_facets, 2, 2), dtype=np.int64)
            grown[:g, :f] = self.cells
            self.cells = grown

    def _sample(self, batch: pa.RecordBatch, keep: npt.NDArray[np.bool_], facet: npt.NDArray[np.int64],
                predicted: npt.NDArray[np.int64]) -> None:
        """Keep the rows with the smallest random keys seen so far: a uniform sample of bounded size."""
        if self.feature_error is not None:
            return
        if self.features is None:
            self.features = [n for n in batch.schema.names if n not in self.config.columns()]
            if not self.features:
                self.feature_error = "FlipTest needs feature columns besides the facet, label and prediction"
                return
        columns = batch.select(self.features).to_pandas()
        if len(columns.columns) != len(columns.select_dtypes([np.number, bool]).columns):
            self.feature_error = "FlipTest does not support non-numeric columns"
            return
        values = columns.to_numpy(dtype=np.float64)[keep]
        predicted = predicted.astype(bool)
        keys = self.rng.random(len(values))
        if self.sample is not None:
            values, facet, predicted, keys = (np.concatenate([old, new]) for old, new in
                                              zip(self.sample, (values, facet, predicted, keys), strict=True))
        if len(keys) > FLIP_SAMPLE_ROWS:
            chosen = np.sort(np.argpartition(keys, FLIP_SAMPLE_ROWS)[:FLIP_SAMPLE_ROWS])
            values, facet, predicted, keys = values[chosen], facet[chosen], predicted[chosen], keys[chosen]
        self.sample = (values, facet, predicted, keys)

    def result(self) -> Tally:
        n_groups = len(self.groups.values) if self.groups is not None else 1
        self._grow(n_groups, len(self.facets.values))
        found = Tally(self.config, self.cells, list(self.facets.values),
                      list(self.groups.values) if self.groups is not None else [None], self.label_max,
                      self.facet_max, self.dropped, self.features or [], feature_error=self.feature_error)
        if self.sample is not None:
            found.sample, found.sample_facet, found.sample_predicted, found.sample_keys = self.sample
        elif self.post and found.feature_error is None:
            found.feature_error = "no rows to run the flip test on"
        return found


class _Codes:
    """Stable integer codes for the values of a column, in order of first appearance across batches."""

    def __init__(self, *, binary: bool) -> None:
        self.values: list[Any] = [False, True] if binary else []
        self._index: dict[Any, int] = {}

    def encode(self, column: pd.Series) -> npt.NDArray[np.int64]:
        local, uniques = pd.factorize(column, sort=False)
        mapping = np.empty(len(uniques), dtype=np.int64)
        for i, value in enumerate(uniques.tolist()):
            code = self._index.get(value)
            if code is None:
                code = self._index[value] = len(self.values)
                self.values.append(value)
            mapping[i] = code
        return mapping[local]


def _positive(column: pd.Series, values: tuple[Any, ...] | None, threshold: float | None,
              field: str) -> npt.NDArray[np.int64]:
    """1 where a value counts as positive (one of ``values``, or above ``threshold``), else 0."""
    if threshold is not None:
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise InvalidInput(f"a {field} threshold needs a numeric column; {column.name!r} holds "
                               f"{column.dtype}", field=f"{field}_threshold")
        return (column.to_numpy() > threshold).astype(np.int64)
    assert values is not None
    return column.isin(_like(column, values)).to_numpy().astype(np.int64)


def _like(column: pd.Series, values: tuple[Any, ...]) -> list[Any]:
    """``values`` in the column's type: ``"1"`` matches the number 1, ``"true"`` the boolean True."""
    if pd.api.types.is_bool_dtype(column):
        return [v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1") for v in values]
    if pd.api.types.is_numeric_dtype(column):
        found = []
        for v in values:
            try:
                found.append(float(v))
            except (TypeError, ValueError):
                found.append(v)
        return found
    return [str(v) for v in values]


def _max(current: Any, column: pd.Series) -> Any:
    top = column.max()
    top = top.item() if hasattr(top, "item") else top
    return top if current is None else max(current, top)


def _field_of(config: BiasConfig, column: str) -> str:
    for name in ("label", "facet", "group", "predicted_label"):
        if getattr(config, name) == column:
            return name
    return "data"
