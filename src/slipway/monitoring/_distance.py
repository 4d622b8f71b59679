"""Distances between a baseline's distribution and the current one, read off the sketches alone.

Numbers are compared through their KLL sketches (a few thousand weighted items each), categories
through their category counts, so a drift score costs the same for a thousand rows as for a
billion and never needs the raw rows again. Every method gives a score and a default threshold;
all but chi-square grow with drift, chi-square gives a p-value, which shrinks.
"""

from __future__ import annotations

import enum
import math

import numpy as np
import numpy.typing as npt

from slipway.statistics import ColumnStatistics

_EPSILON = 1e-4  # a floor for empty bins: PSI's logarithm must stay finite
_PSI_BINS = 10
_GRID_POINTS = 1025


class DriftMethod(enum.StrEnum):
    """How two distributions of one feature are compared (``comparison_method`` in ``constraints.json``)."""

    KOLMOGOROV_SMIRNOV = "KolmogorovSmirnov"
    """Numbers: the largest gap between the two cumulative distributions, in [0, 1]."""
    PSI = "PopulationStabilityIndex"
    """Numbers over the baseline's deciles, categories over their values: 0 means no change."""
    JENSEN_SHANNON = "JensenShannon"
    """Numbers over the baseline's deciles, categories over their values: a distance in [0, 1]."""
    WASSERSTEIN = "Wasserstein"
    """Numbers: earth mover's distance divided by the baseline's standard deviation."""
    CHI_SQUARE = "ChiSquare"
    """Categories: the p-value of a chi-square test of homogeneity; drift when it is below the threshold."""


NUMERIC_METHODS = frozenset(
    {DriftMethod.KOLMOGOROV_SMIRNOV, DriftMethod.PSI, DriftMethod.JENSEN_SHANNON, DriftMethod.WASSERSTEIN}
)
CATEGORICAL_METHODS = frozenset({DriftMethod.CHI_SQUARE, DriftMethod.PSI, DriftMethod.JENSEN_SHANNON})

DEFAULT_THRESHOLDS = {
    DriftMethod.KOLMOGOROV_SMIRNOV: 0.1,
    DriftMethod.PSI: 0.2,
    DriftMethod.JENSEN_SHANNON: 0.1,
    DriftMethod.WASSERSTEIN: 0.1,
    DriftMethod.CHI_SQUARE: 0.05,
}


def is_drift(method: DriftMethod, score: float, threshold: float) -> bool:
    """Whether ``score`` crosses ``threshold``: below it for chi-square's p-value, above it for the rest."""
    if math.isnan(score):
        return False
    return score < threshold if method is DriftMethod.CHI_SQUARE else score > threshold


def drift_score(method: DriftMethod, baseline: ColumnStatistics, current: ColumnStatistics) -> float:
    """The score of ``method`` between two columns' statistics; NaN when either side has no values.

    Raises:
        ValueError: if the method does not apply to the columns' kind (e.g. chi-square on numbers).
    """
    if not baseline.num_present or not current.num_present:
        return math.nan
    if baseline.numeric and current.numeric:
        if method not in NUMERIC_METHODS:
            raise ValueError(f"{method} does not compare numbers; use one of {', '.join(sorted(NUMERIC_METHODS))}")
        return _numeric_score(method, baseline, current)
    if baseline.numeric or current.numeric:
        raise ValueError(f"column {baseline.name!r} is a number on one side and text on the other")
    if method not in CATEGORICAL_METHODS:
        raise ValueError(f"{method} does not compare categories; use one of {', '.join(sorted(CATEGORICAL_METHODS))}")
    expected, observed = category_counts(baseline, current)
    if method is DriftMethod.CHI_SQUARE:
        return _chi_square_p_value(expected, observed)
    return _binned_score(method, expected / expected.sum(), observed / observed.sum())


def _numeric_score(method: DriftMethod, baseline: ColumnStatistics, current: ColumnStatistics) -> float:
    assert baseline.kll is not None and current.kll is not None
    if method in (DriftMethod.KOLMOGOROV_SMIRNOV, DriftMethod.WASSERSTEIN):
        # Both CDFs compared at 1,025 quantiles of each side: the gap is off by at most 1/1024
        # from the sketches' own, and the area between the CDFs is Wasserstein-1.
        ranks = np.linspace(0, 1, _GRID_POINTS)
        points = np.union1d(baseline.kll.quantiles(ranks), current.kll.quantiles(ranks))
        gap = np.abs(baseline.kll.cdf(points) - current.kll.cdf(points))
        if method is DriftMethod.KOLMOGOROV_SMIRNOV:
            return float(gap.max())
        area = float(np.sum(gap[:-1] * np.diff(points)))
        return area / baseline.std_dev if baseline.std_dev > 0 else area
    edges = np.unique(baseline.kll.quantiles(np.linspace(0, 1, _PSI_BINS + 1)[1:-1]))
    return _binned_score(method, _bin_shares(baseline, edges), _bin_shares(current, edges))


def _bin_shares(column: ColumnStatistics, edges: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The share of values in each of ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    assert column.kll is not None
    below = np.concatenate([[0.0], column.kll.cdf(edges), [1.0]])
    return np.asarray(np.diff(below), dtype=np.float64)


def category_counts(
    baseline: ColumnStatistics, current: ColumnStatistics
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Counts of each value either side kept, then of all other values, for both sides.

    Values beyond the summaries' capacity are pooled into the last ("other") cell, so counts of
    columns with many distinct values compare their frequent values and the rest as one.
    """
    assert baseline.frequent is not None and current.frequent is not None
    values = sorted(set(baseline.frequent.counts) | set(current.frequent.counts))

    def counts(column: ColumnStatistics) -> npt.NDArray[np.float64]:
        assert column.frequent is not None
        kept = np.array([column.frequent.counts.get(v, 0) for v in values], dtype=np.float64)
        return np.append(kept, max(column.num_present - kept.sum(), 0.0))

    return counts(baseline), counts(current)


def _binned_score(method: DriftMethod, expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float:
    if method is DriftMethod.PSI:
        e, a = np.maximum(expected, _EPSILON), np.maximum(actual, _EPSILON)
        return float(np.sum((a - e) * np.log(a / e)))
    if method is DriftMethod.JENSEN_SHANNON:
        mean = (expected + actual) / 2
        divergence = (_kl(expected, mean) + _kl(actual, mean)) / 2
        return math.sqrt(max(divergence, 0.0))
    raise ValueError(f"{method} does not compare binned shares")


def _kl(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> float:
    """Kullback-Leibler divergence in bits, 0·log 0 taken as 0."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def _chi_square_p_value(expected: npt.NDArray[np.float64], observed: npt.NDArray[np.float64]) -> float:
    """Chi-square test of homogeneity of two count vectors (a 2×k table)."""
    table = np.vstack([expected, observed])
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof < 1:
        return 1.0
    totals = table.sum(axis=1, keepdims=True)
    fitted = totals * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - fitted) ** 2 / fitted))
    return chi_square_survival(statistic, dof)


def chi_square_survival(statistic: float, dof: int) -> float:
    """P(X ≥ statistic) for X ~ χ²(dof): exact for 1 and 2 degrees of freedom, else Wilson–Hilferty.

    The Wilson–Hilferty cube-root approximation is within about 0.005 of the exact value around
    the thresholds that matter (0.01–0.1), and needs no special functions beyond ``erfc``.
    """
    if statistic <= 0:
        return 1.0
    if dof == 1:
        return math.erfc(math.sqrt(statistic / 2))
    if dof == 2:
        return math.exp(-statistic / 2)
    spread = 2 / (9 * dof)
    z = ((statistic / dof) ** (1 / 3) - (1 - spread)) / math.sqrt(spread)
    return 0.5 * math.erfc(z / math.sqrt(2))
