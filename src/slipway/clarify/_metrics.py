"""The bias metrics, as the cloud stack documents them and its open-source ``smclarify`` computes them.

``a`` is the rest of the data, ``d`` the facet's sensitive group; ``n`` counts rows, a ``1`` or
``0`` names positive or negative labels, a hat the model's predictions. Each metric is computed
from the counts of :class:`~slipway.clarify._tally.Tally` (the flip test from its row sample):

Pre-training (labels only):
    CI = (na − nd) / (na + nd); DPL = na¹/na − nd¹/nd; KL, JS, LP (L2), TVD (½ L1) and KS (L∞)
    between the label distributions of a and d (natural logarithms; outcomes absent on either
    side are left out, as smclarify does); CDDL = Σ_g n_g (nd⁰_g/n⁰_g − nd¹_g/n¹_g) / n over the
    groups g.

Post-training (labels and predictions):
    DPPL = n̂a¹/na − n̂d¹/nd; DI = (n̂d¹/nd) / (n̂a¹/na); DCA = na¹/n̂a¹ − nd¹/n̂d¹;
    DCR = nd⁰/n̂d⁰ − na⁰/n̂a⁰; RD = recall_a − recall_d; SD = specificity_d − specificity_a;
    DAR = TPa/n̂a¹ − TPd/n̂d¹; DRR = TNd/n̂d⁰ − TNa/n̂a⁰; AD = accuracy_a − accuracy_d;
    TE = FNd/FPd − FNa/FPa; CDDPL as CDDL on predictions; FT, the counterfactual flip test:
    a 5-nearest-neighbour classifier fit on a's predictions predicts d, and
    FT = (#(model positive, neighbours negative) − #(model negative, neighbours positive)) / nd;
    GE, the generalized entropy index with α = 2 of the benefits b = ŷ − y + 1.

A ratio with a zero denominator is 0 when its numerator is 0 and ±∞ otherwise (``analysis.json``
writes ``"Infinity"``); a metric that cannot be computed (an empty side, no positive label for
CDD) has no value and an ``error`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from slipway.clarify._extras import load
from slipway.clarify._tally import FacetSide, Tally

PRE_TRAINING = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "GE", "RD", "SD", "TE")
ALIASES = {"DCAcc": "DCA", "DCAcceptance": "DCA", "DCRej": "DCR", "LPNorm": "LP"}
DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "TE": "Treatment Equality (TE)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "FT": "Flip Test (FT)",
    "GE": "Generalized Entropy (GE)",
}
INFINITY = math.inf
_FT_NEIGHBOURS, _FT_FEW_NEIGHBOURS, _FT_FEW_ROWS = 5, 1, 9


class MetricError(ValueError):
    """A metric that cannot be computed on this data; its message goes to the report."""


def resolve_methods(methods: str | Sequence[str] | None, stage: tuple[str, ...]) -> list[str]:
    """The metric names to compute for one stage, sorted as the report lists them.

    Raises:
        MetricError: for a name that is no metric of the stage.
    """
    if methods is None or methods == "all" or list(methods) == ["all"]:
        return sorted(stage)
    names = [ALIASES.get(m, m) for m in ([methods] if isinstance(methods, str) else methods)]
    return sorted({n for n in names if n in stage})


def unknown_methods(methods: str | Sequence[str] | None) -> list[str]:
    """Names in ``methods`` that are no metric at all (for the caller to refuse)."""
    if methods is None or methods == "all":
        return []
    names = [methods] if isinstance(methods, str) else list(methods)
    return [m for m in names if m != "all" and ALIASES.get(m, m) not in DESCRIPTIONS]


def compute(tally: Tally, side: FacetSide, names: Sequence[str]) -> list[dict[str, Any]]:
    """The metrics ``names`` for one facet side, as ``analysis.json`` lists them."""
    counts = _Sides(tally, side)
    found = []
    for name in names:
        entry: dict[str, Any] = {"name": name, "description": DESCRIPTIONS[name]}
        try:
            entry["value"] = json_number(_METRICS[name](counts))
        except MetricError as exc:
            entry["value"] = None
            entry["error"] = str(exc)
        found.append(entry)
    return found


def json_number(value: float) -> float | str:
    """A metric value as ``analysis.json`` holds it: infinities as the strings ``"Infinity"``, ``"-Infinity"``."""
    value = float(value)
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def read_number(value: Any) -> float:
    """The inverse of :func:`json_number`; NaN for a metric without a value."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        return {"Infinity": math.inf, "-Infinity": -math.inf}.get(value, math.nan)
    return float(value)


def _divide(a: float, b: float) -> float:
    if b == 0:
        return 0.0 if a == 0 else (INFINITY if a > 0 else -INFINITY)
    return a / b


def _difference(x: float, y: float) -> float:
    """``x − y``, and 0 when both are infinite the same way (as smclarify has it)."""
    return 0.0 if x == y and math.isinf(x) else x - y


class _Sides:
    """The counts of one comparison: ``a[l, p]`` and ``d[l, p]`` (label, prediction), per group and summed."""

    def __init__(self, tally: Tally, side: FacetSide) -> None:
        self.tally = tally
        self.side = side
        by_group_d = tally.cells[:, side.sensitive].sum(axis=1)
        by_group_a = tally.cells[:, ~side.sensitive].sum(axis=1)
        self.groups = (by_group_a.astype(float), by_group_d.astype(float))
        self.a, self.d = by_group_a.sum(axis=0).astype(float), by_group_d.sum(axis=0).astype(float)

    def sizes(self) -> tuple[float, float]:
        na, nd = self.a.sum(), self.d.sum()
        if nd == 0:
            raise MetricError("Facet set is empty")
        if na == 0:
            raise MetricError("Negated facet set is empty")
        return na, nd

    def label_distributions(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """P(label negative), P(label positive) on each side, keeping outcomes both sides have."""
        na, nd = self.sizes()
        pa, pd_ = self.a.sum(axis=1) / na, self.d.sum(axis=1) / nd
        both = (pa > 0) & (pd_ > 0)
        if not both.any():
            raise MetricError("No instance of common facet found, dataset may be too small")
        return pa[both], pd_[both]


def _ci(s: _Sides) -> float:
    na, nd = s.sizes()
    return (na - nd) / (na + nd)


def _dpl_of(s: _Sides, axis: int) -> float:
    """Difference in positive proportions, of labels (``axis=1`` sums predictions out) or predictions."""
    na, nd = s.sizes()
    return s.a.sum(axis=axis)[1] / na - s.d.sum(axis=axis)[1] / nd


def _kl(s: _Sides) -> float:
    pa, pd_ = s.label_distributions()
    return float(np.sum(pa * np.log(pa / pd_)))


def _js(s: _Sides) -> float:
    pa, pd_ = s.label_distributions()
    p = (pa + pd_) / 2
    return float(0.5 * (np.sum(pa * np.log(pa / p)) + np.sum(pd_ * np.log(pd_ / p))))


def _norm(order: float) -> Callable[[_Sides], float]:
    def metric(s: _Sides) -> float:
        pa, pd_ = s.label_distributions()
        return float(np.linalg.norm(pa - pd_, order))
    return metric


def _cdd_of(s: _Sides, axis: int) -> float:
    """Conditional demographic disparity of labels (``axis=2``: predictions summed out) or predictions."""
    if s.tally.config.group is None:
        raise MetricError("Group variable is empty or not provided")
    group_a, group_d = (g.sum(axis=axis) for g in s.groups)  # [group, outcome]
    everyone = group_a + group_d
    if everyone[:, 1].sum() == 0:
        raise MetricError("No positive labels in set")
    if everyone[:, 0].sum() == 0:
        raise MetricError("No negative labels in set")
    with np.errstate(divide="ignore", invalid="ignore"):
        accepted = np.where(everyone[:, 1] > 0, group_d[:, 1] / everyone[:, 1], 0.0)
        rejected = np.where(everyone[:, 0] > 0, group_d[:, 0] / everyone[:, 0], 0.0)
    sizes = everyone.sum(axis=1)
    return _divide(float(np.sum(sizes * (rejected - accepted))), float(sizes.sum()))


def _di(s: _Sides) -> float:
    na, nd = s.sizes()
    return _divide(s.d[:, 1].sum() / nd, s.a[:, 1].sum() / na)


def _dca(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.a[1].sum(), s.a[:, 1].sum()), _divide(s.d[1].sum(), s.d[:, 1].sum()))


def _dcr(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.d[0].sum(), s.d[:, 0].sum()), _divide(s.a[0].sum(), s.a[:, 0].sum()))


def _rd(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.a[1, 1], s.a[1].sum()), _divide(s.d[1, 1], s.d[1].sum()))


def _sd(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.d[0, 0], s.d[0].sum()), _divide(s.a[0, 0], s.a[0].sum()))


def _dar(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.a[1, 1], s.a[:, 1].sum()), _divide(s.d[1, 1], s.d[:, 1].sum()))


def _drr(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.d[0, 0], s.d[:, 0].sum()), _divide(s.a[0, 0], s.a[:, 0].sum()))


def _ad(s: _Sides) -> float:
    na, nd = s.sizes()
    return _difference(_divide(s.a[1, 1] + s.a[0, 0], na), _divide(s.d[1, 1] + s.d[0, 0], nd))


def _te(s: _Sides) -> float:
    s.sizes()
    return _difference(_divide(s.d[1, 0], s.d[0, 1]), _divide(s.a[1, 0], s.a[0, 1]))


def _ge(s: _Sides) -> float:
    """Generalized entropy (α = 2) of the benefits ŷ − y + 1 ∈ {0, 1, 2}, over all rows."""
    cells = s.tally.cells.sum(axis=(0, 1)).astype(float)  # [label, prediction]
    n = cells.sum()
    if n == 0:
        raise MetricError("dataset must be non-empty")
    zero, two = cells[1, 0], cells[0, 1]
    one = n - zero - two
    mean = (one + 2 * two) / n
    if mean == 0:
        raise MetricError("All predicted labels are false negatives. There should be at least one prediction "
                          "that is not false negative.")
    alpha = 2.0
    total = (zero * (0 - 1) + one * ((1 / mean) ** alpha - 1) + two * ((2 / mean) ** alpha - 1))
    return float(total / (n * alpha * (alpha - 1)))


def _ft(s: _Sides) -> float:
    """The flip test on the tally's row sample (all rows when there are at most 20,000)."""
    s.sizes()
    tally = s.tally
    if tally.feature_error is not None:
        raise MetricError(tally.feature_error)
    assert tally.sample is not None and tally.sample_facet is not None and tally.sample_predicted is not None
    sensitive = s.side.sensitive[tally.sample_facet]
    rows_a, rows_d = tally.sample[~sensitive], tally.sample[sensitive]
    if not len(rows_d):
        raise MetricError("Facet set is empty")
    if not len(rows_a):
        raise MetricError("Negated Facet set is empty")
    neighbors = load("sklearn.neighbors", "sklearn")
    k = _FT_NEIGHBOURS if len(rows_a) > _FT_FEW_ROWS else _FT_FEW_NEIGHBOURS
    knn = neighbors.KNeighborsClassifier(n_neighbors=k)
    try:
        knn.fit(rows_a, tally.sample_predicted[~sensitive])
        if_advantaged = knn.predict(rows_d).astype(bool)
    except ValueError as exc:  # NaN features, fewer rows than neighbours
        raise MetricError(str(exc)) from None
    model = tally.sample_predicted[sensitive]
    return _divide(float(np.sum(model & ~if_advantaged)) - float(np.sum(~model & if_advantaged)), float(len(rows_d)))


_METRICS: dict[str, Callable[[_Sides], float]] = {
    "CI": _ci,
    "DPL": lambda s: _dpl_of(s, 1),
    "KL": _kl,
    "JS": _js,
    "LP": _norm(2),
    "TVD": lambda s: 0.5 * _norm(1)(s),
    "KS": _norm(np.inf),
    "CDDL": lambda s: _cdd_of(s, 2),
    "DPPL": lambda s: _dpl_of(s, 0),
    "DI": _di,
    "DCA": _dca,
    "DCR": _dcr,
    "RD": _rd,
    "SD": _sd,
    "DAR": _dar,
    "DRR": _drr,
    "AD": _ad,
    "TE": _te,
    "CDDPL": lambda s: _cdd_of(s, 1),
    "FT": _ft,
    "GE": _ge,
}
