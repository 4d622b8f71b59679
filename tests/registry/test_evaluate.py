"""Bootstrap uncertainty: the point value is the plain metric, the spread shrinks with more data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, r2_score

from slipway.errors import InvalidInput
from slipway.registry import MetricValue, evaluate_with_uncertainty


def _predictions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, size=n)
    return y, y + rng.normal(0, 1, size=n)


def test_value_is_the_metric_on_the_whole_set_and_std_is_positive() -> None:
    y, p = _predictions(200)
    result = evaluate_with_uncertainty(mean_squared_error, y, p)
    assert result.value == pytest.approx(mean_squared_error(y, p))
    assert result.std is not None and 0 < result.std < result.value


def test_std_shrinks_as_the_evaluation_set_grows() -> None:
    small = evaluate_with_uncertainty(mean_squared_error, *_predictions(50))
    large = evaluate_with_uncertainty(mean_squared_error, *_predictions(5000))
    assert small.std is not None and large.std is not None
    # The standard error falls like 1/sqrt(n): 100x the rows, about a tenth of the spread.
    assert large.std < small.std / 4


def test_same_seed_same_result_and_pandas_inputs_work() -> None:
    y, p = _predictions(100)
    a = evaluate_with_uncertainty(r2_score, pd.Series(y, index=range(100, 200)), pd.Series(p), seed=7)
    b = evaluate_with_uncertainty(r2_score, y, p, seed=7)
    c = evaluate_with_uncertainty(r2_score, y, p, seed=8)
    assert a == b
    assert c.std != b.std
    assert isinstance(a, MetricValue)


def _relative_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Undefined (NaN) when the sample has no spread, as R2 is in textbooks."""
    spread = np.var(y_true)
    return float(np.mean((y_true - y_pred) ** 2) / spread) if spread else float("nan")


def test_resamples_where_the_metric_is_undefined_are_left_out() -> None:
    y = np.array([1.0, 1.0, 1.0, 1.0, 2.0])  # about a third of the resamples are constant
    p = np.array([1.1, 0.9, 1.0, 1.0, 1.8])
    result = evaluate_with_uncertainty(_relative_error, y, p, n_resamples=100)
    assert result.std is not None and np.isfinite(result.std)


def test_a_metric_undefined_on_the_whole_set_is_refused() -> None:
    with pytest.raises(InvalidInput, match="on the whole evaluation set") as exc:
        evaluate_with_uncertainty(_relative_error, [1.0, 1.0], [1.0, 2.0])
    assert exc.value.field == "metric_fn"


@pytest.mark.parametrize(
    ("y_true", "y_pred", "n_resamples", "field"),
    [([1.0, 2.0], [1.0], 200, "y_pred"), ([1.0], [1.0], 200, "y_true"), ([1.0, 2.0], [1.0, 2.0], 1, "n_resamples")],
)
def test_bad_inputs_name_the_argument(y_true: list, y_pred: list, n_resamples: int, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        evaluate_with_uncertainty(mean_squared_error, y_true, y_pred, n_resamples=n_resamples)
    assert exc.value.field == field
