"""Checks of a new report against a baseline: bias drift and feature-attribution drift.

Bias (``bias_drift_check``): a metric of the new data is a finding when it moved more than
``tolerance`` from the baseline's value for the same facet value, or when its magnitude passes
an absolute bound (``bounds={"DPPL": 0.1}``; for the ratio DI, the bound is on ``|DI − 1|``).
Metrics without a finite value on either side are not compared.

Attributions (``feature_attribution_drift_check``): the features ranked by their new global
attribution (mean |SHAP|) are scored against the baseline's by the normalised discounted
cumulative gain, as the cloud stack's monitor does::

    nDCG = Σᵢ a(F′ᵢ) / log₂(i + 1)  ÷  Σᵢ a(Fᵢ) / log₂(i + 1)

where ``F`` ranks the features by their baseline attribution ``a``, and ``F′`` by the new one.
1.0 means the same order; a score below ``threshold`` (0.90 by default) is a finding.
"""

from __future__ import annotations

import dataclasses
import math

from slipway.clarify._report import Analysis

BIAS_DRIFT_CHECK = "bias_drift_check"
ATTRIBUTION_DRIFT_CHECK = "feature_attribution_drift_check"
DEFAULT_TOLERANCE = 0.1
DEFAULT_NDCG_THRESHOLD = 0.90
_RATIOS = frozenset({"DI"})


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing that broke its constraint: ``name`` is ``<facet>=<value>/<METRIC>`` or ``*``."""

    name: str
    check_type: str
    description: str


def bias_findings(
    current: Analysis, *, baseline: Analysis | None = None, tolerance: float = DEFAULT_TOLERANCE,
    bounds: dict[str, float] | None = None,
) -> list[Finding]:
    """What in ``current``'s bias sections moved beyond ``tolerance`` from ``baseline`` or passes ``bounds``."""
    found = []
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        before = baseline.bias_values(section) if baseline is not None else {}
        for key, value in current.bias_values(section).items():
            if not math.isfinite(value):
                continue
            metric = key.rsplit("/", 1)[1]
            bound = (bounds or {}).get(metric)
            size = abs(value - 1) if metric in _RATIOS else abs(value)
            if bound is not None and size > bound:
                found.append(Finding(key, BIAS_DRIFT_CHECK,
                                     f"{metric} {value:.4g} is beyond its bound {bound:g}"
                                     + (" (of |DI - 1|)" if metric in _RATIOS else "")))
            reference = before.get(key)
            if reference is not None and math.isfinite(reference) and abs(value - reference) > tolerance:
                found.append(Finding(key, BIAS_DRIFT_CHECK,
                                     f"{metric} {value:.4g} moved {value - reference:+.4g} from the baseline's "
                                     f"{reference:.4g}, beyond the tolerance {tolerance:g}"))
    return found


def ndcg(current: dict[str, float], baseline: dict[str, float]) -> float:
    """How well ``current``'s ranking of the baseline's features keeps the baseline's, in [0, 1].

    Example:
        >>> ndcg({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 3.0, "b": 2.0, "c": 1.0})
        1.0
        >>> round(ndcg({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 3.0, "b": 2.0, "c": 1.0}), 4)
        0.79
    """
    features = sorted(baseline)
    if not features:
        return 1.0
    ideal = sorted(features, key=lambda f: (-baseline[f], f))
    ranked = sorted(features, key=lambda f: (-current.get(f, 0.0), f))
    dcg = sum(baseline[f] / math.log2(i + 2) for i, f in enumerate(ranked))
    best = sum(baseline[f] / math.log2(i + 2) for i, f in enumerate(ideal))
    return dcg / best if best > 0 else 1.0


def attribution_findings(
    current: Analysis, baseline: Analysis, *, threshold: float = DEFAULT_NDCG_THRESHOLD
) -> tuple[float, list[Finding]]:
    """The nDCG of ``current``'s attributions against ``baseline``'s, and a finding when it is below ``threshold``."""
    score = ndcg(current.global_shap(), baseline.global_shap())
    if score >= threshold:
        return score, []
    before = ", ".join(sorted(baseline.global_shap(), key=lambda f: -baseline.global_shap()[f])[:3])
    after = ", ".join(sorted(current.global_shap(), key=lambda f: -current.global_shap()[f])[:3])
    return score, [Finding("*", ATTRIBUTION_DRIFT_CHECK,
                           f"nDCG {score:.4f} of the feature ranking is below {threshold:g} (top features were "
                           f"{before}; now {after})")]
