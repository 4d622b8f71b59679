"""Drift distances read off sketches agree with the same distances computed from the raw values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from slipway.monitoring import DriftMethod, drift_score, is_drift
from slipway.monitoring._distance import NUMERIC_METHODS, chi_square_survival
from slipway.statistics import compute_statistics


def _columns(a: np.ndarray, b: np.ndarray):  # type: ignore[no-untyped-def]
    return compute_statistics(pd.DataFrame({"x": a}))["x"], compute_statistics(pd.DataFrame({"x": b}))["x"]


def _exact_ks(a: np.ndarray, b: np.ndarray) -> float:
    points = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), points, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), points, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_kolmogorov_smirnov_and_wasserstein_match_the_raw_values(shift: float) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 200_000), rng.normal(shift, 1, 200_000)
    base, cur = _columns(a, b)
    assert drift_score(DriftMethod.KOLMOGOROV_SMIRNOV, base, cur) == pytest.approx(_exact_ks(a, b), abs=0.015)
    exact_wasserstein = float(np.abs(np.sort(a) - np.sort(b)).mean()) / a.std()
    assert drift_score(DriftMethod.WASSERSTEIN, base, cur) == pytest.approx(exact_wasserstein, abs=0.02)


def test_every_numeric_distance_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(2)
    base, same = _columns(rng.exponential(2, 100_000), rng.exponential(2, 100_000))
    _, moved = _columns(rng.exponential(2, 100_000), rng.exponential(2, 100_000) * 1.5)
    for method in NUMERIC_METHODS:
        quiet, loud = drift_score(method, base, same), drift_score(method, base, moved)
        assert quiet < 0.03 < loud, method
        assert not is_drift(method, quiet, 0.1) or method is DriftMethod.PSI


def test_category_distances() -> None:
    rng = np.random.default_rng(3)
    values = np.array(["a", "b", "c"])
    base, same = _columns(rng.choice(values, 20_000), rng.choice(values, 20_000))
    _, moved = _columns(rng.choice(values, 20_000), rng.choice(values, 20_000, p=[0.5, 0.3, 0.2]))
    assert drift_score(DriftMethod.CHI_SQUARE, base, same) > 0.01
    assert drift_score(DriftMethod.CHI_SQUARE, base, moved) < 1e-6
    assert is_drift(DriftMethod.CHI_SQUARE, drift_score(DriftMethod.CHI_SQUARE, base, moved), 0.05)
    jensen_shannon = DriftMethod.JENSEN_SHANNON
    assert drift_score(jensen_shannon, base, same) < 0.02 < drift_score(jensen_shannon, base, moved)
    assert drift_score(DriftMethod.PSI, base, moved) > 0.1


@pytest.mark.parametrize(("statistic", "dof"), [(3.841, 1), (5.991, 2), (11.070, 5), (18.307, 10), (124.342, 100)])
def test_chi_square_survival_at_known_five_percent_points(statistic: float, dof: int) -> None:
    assert chi_square_survival(statistic, dof) == pytest.approx(0.05, abs=0.003)


def test_a_method_for_the_wrong_kind_and_empty_sides() -> None:
    numbers, _ = _columns(np.arange(10.0), np.arange(10.0))
    text = compute_statistics(pd.DataFrame({"x": ["a", "b"]}))["x"]
    with pytest.raises(ValueError, match="does not compare numbers"):
        drift_score(DriftMethod.CHI_SQUARE, numbers, numbers)
    with pytest.raises(ValueError, match="does not compare categories"):
        drift_score(DriftMethod.WASSERSTEIN, text, text)
    empty = compute_statistics(pd.DataFrame({"x": [math.nan]}))["x"]
    assert math.isnan(drift_score(DriftMethod.KOLMOGOROV_SMIRNOV, numbers, empty))
    assert not is_drift(DriftMethod.KOLMOGOROV_SMIRNOV, math.nan, 0.1)
