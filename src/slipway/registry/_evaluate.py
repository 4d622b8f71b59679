"""Metrics with their spread: a point value and a bootstrap standard deviation.

A single number hides how much it would move on another sample of the same data; two versions
whose scores differ by less than their spread are not distinguishable. Resampling the evaluation
set with replacement and recomputing the metric estimates that spread without any assumption
about the metric's distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.registry._records import MetricValue


def _take(values: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array, a list or a pandas object (by position, whatever its index)."""
    if hasattr(values, "iloc"):
        return values.iloc[index]
    return np.asarray(values)[index]


def evaluate_with_uncertainty(
    metric_fn: Callable[[Any, Any], float],
    y_true: Any,
    y_pred: Any,
    n_resamples: int = 200,
    seed: int = 0,
) -> MetricValue:
    """Compute ``metric_fn(y_true, y_pred)`` and its standard deviation by bootstrap resampling.

    The value is the metric on the whole evaluation set; the standard deviation is that of the
    metric over ``n_resamples`` resamples of the set's rows drawn with replacement. Resamples on
    which the metric is undefined (it returns NaN or infinity, as R² does on a constant sample)
    are left out. The result is reproducible for a given ``seed``.

    Args:
        metric_fn: ``(y_true, y_pred) -> float``, e.g. ``sklearn.metrics.mean_squared_error``.
        y_true, y_pred: the same number of rows; arrays, lists, pandas Series or DataFrames.
        n_resamples: how many resamples (at least 2).
        seed: seed of the random generator that draws them.

    Returns:
        ``MetricValue(value, std)``, ready for ``register_model(metrics={"mse": ...})``.

    Raises:
        InvalidInput: if the inputs differ in length, hold fewer than 2 rows, ``n_resamples`` is
            below 2, or the metric is undefined on the whole set or on all but one resample.

    Example:
        >>> from sklearn.metrics import mean_absolute_error
        >>> m = evaluate_with_uncertainty(mean_absolute_error, [1, 2, 3, 4], [1, 2, 2, 5])
        >>> m.value
        0.5
    """
    n = len(y_true)
    if len(y_pred) != n:
        raise InvalidInput(f"y_true has {n} rows but y_pred has {len(y_pred)}", field="y_pred")
    if n < 2:
        raise InvalidInput(f"the evaluation set needs at least 2 rows to resample, got {n}", field="y_true")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
        raise InvalidInput(f"n_resamples must be an integer of at least 2, got {n_resamples!r}", field="n_resamples")
    value = float(metric_fn(y_true, y_pred))
    if not math.isfinite(value):
        raise InvalidInput(f"the metric is {value} on the whole evaluation set", field="metric_fn")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n_resamples):
        index = rng.integers(0, n, size=n)
        scores.append(float(metric_fn(_take(y_true, index), _take(y_pred, index))))
    finite = np.array([s for s in scores if math.isfinite(s)])
    if finite.size < 2:
        undefined = n_resamples - finite.size
        raise InvalidInput(f"the metric is undefined on {undefined} of {n_resamples} resamples", field="metric_fn")
    return MetricValue(value=value, std=float(np.std(finite, ddof=1)))
