"""The data-quality check: current statistics against a baseline's constraints and distributions.

It reads only aggregated statistics, so checking a capture window of any size costs the same
once its statistics exist, and the result (violations, drift per feature) stays small.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

from slipway.datasets import DataSource
from slipway.monitoring._baseline import Baseline, statistics_of
from slipway.monitoring._constraints import FeatureConstraints
from slipway.monitoring._distance import DriftMethod, drift_score, is_drift
from slipway.statistics import ColumnStatistics, DatasetStatistics


class CheckType(enum.StrEnum):
    """The kinds of violation (``constraint_check_type``); the first six are the cloud monitor's."""

    DATA_TYPE = "data_type_check"
    COMPLETENESS = "completeness_check"
    BASELINE_DRIFT = "baseline_drift_check"
    MISSING_COLUMN = "missing_column_check"
    EXTRA_COLUMN = "extra_column_check"
    CATEGORICAL_VALUES = "categorical_values_check"
    NON_NEGATIVE = "non_negative_check"
    MODEL_QUALITY = "model_quality_check"


@dataclasses.dataclass(frozen=True)
class Violation:
    """One broken constraint, as an entry of ``constraint_violations.json``."""

    feature_name: str
    constraint_check_type: CheckType | str  # a CheckType, or a custom rule's own kind
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"feature_name": self.feature_name, "constraint_check_type": str(self.constraint_check_type),
                "description": self.description}


@dataclasses.dataclass(frozen=True)
class FeatureDrift:
    """How far one feature moved from the baseline: the score of its method against its threshold."""

    feature_name: str
    method: DriftMethod
    score: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return is_drift(self.method, self.score, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return {"feature_name": self.feature_name, "method": str(self.method),
                "score": None if math.isnan(self.score) else self.score,
                "threshold": self.threshold, "drifted": self.drifted}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: violations, drift per feature, and both sides' statistics."""

    baseline: Baseline
    statistics: DatasetStatistics
    violations: list[Violation]
    drift: list[FeatureDrift]

    def violation_counts(self) -> dict[str, int]:
        """How many violations of each check type (only types that occurred)."""
        counts: dict[str, int] = {}
        for violation in self.violations:
            counts[violation.constraint_check_type] = counts.get(violation.constraint_check_type, 0) + 1
        return counts

    def violations_document(self) -> dict[str, Any]:
        """``constraint_violations.json``: ``{"violations": [{feature_name, constraint_check_type, description}]}``."""
        return {"violations": [v.to_dict() for v in self.violations]}

    def drift_document(self) -> dict[str, Any]:
        """``drift.json``: the score, threshold and verdict of every compared feature."""
        return {"features": [d.to_dict() for d in self.drift]}


def check_statistics(current: DatasetStatistics, baseline: Baseline) -> CheckResult:
    """Check statistics of current data against a baseline.

    Example:
        >>> result = check_statistics(compute_statistics(today), Baseline.read("baseline/"))
        >>> [v.feature_name for v in result.violations]
        ['length']
    """
    violations: list[Violation] = []
    drift: list[FeatureDrift] = []
    for rules in baseline.constraints.features:
        column = current.columns.get(rules.name)
        if column is None:
            violations.append(Violation(rules.name, CheckType.MISSING_COLUMN,
                                        f"the baseline's column {rules.name!r} is missing"))
            continue
        if rules.monitoring_config.evaluate_constraints == "Disabled":
            continue
        type_violation = _type_violation(rules, column)
        if type_violation is not None:
            violations.append(type_violation)
            continue  # values of another type make the remaining checks meaningless
        violations.extend(_value_violations(rules, column, current.item_count))
        reference = baseline.statistics.columns.get(rules.name)
        comparison = rules.monitoring_config.distribution_constraints
        if reference is not None and comparison.perform_comparison == "Enabled":
            found = FeatureDrift(rules.name, comparison.comparison_method,
                                 drift_score(comparison.comparison_method, reference, column),
                                 comparison.comparison_threshold)
            drift.append(found)
            if found.drifted:
                violations.append(Violation(
                    rules.name, CheckType.BASELINE_DRIFT,
                    f"{found.method} {found.score:.4g} against the baseline, beyond the threshold {found.threshold:g}",
                ))
    known = {rules.name for rules in baseline.constraints.features}
    violations.extend(
        Violation(name, CheckType.EXTRA_COLUMN, f"column {name!r} is not in the baseline")
        for name in current.columns if name not in known
    )
    return CheckResult(baseline, current, violations, drift)


def check_data(
    data: DataSource, baseline: Baseline, *, format: str | None = None, engine: str = "local"
) -> CheckResult:
    """Check a DataFrame, Arrow table or CSV/Parquet/JSON-lines file or folder against a baseline, in chunks.

    ``engine="ray"``: the statistics of a folder or ``s3://`` prefix computed per block on Ray Data
    and merged (see :func:`~slipway.monitoring.statistics_of`).
    """
    return check_statistics(statistics_of(data, format=format, engine=engine), baseline)


def _type_violation(rules: FeatureConstraints, column: ColumnStatistics) -> Violation | None:
    """Text where numbers were, or fractions where integers were; integers where fractions were are fine."""
    expected, found = rules.inferred_type, column.inferred_type
    if expected == found or (expected == "Fractional" and found == "Integral") or not column.num_present:
        return None
    return Violation(rules.name, CheckType.DATA_TYPE, f"values are {found}, the baseline's are {expected}")


def _value_violations(rules: FeatureConstraints, column: ColumnStatistics, rows: int) -> list[Violation]:
    found: list[Violation] = []
    completeness = column.num_present / rows if rows else 1.0
    if completeness < rules.completeness:
        found.append(Violation(
            rules.name, CheckType.COMPLETENESS,
            f"{completeness:.2%} of rows have a value, the baseline requires {rules.completeness:.2%}",
        ))
    if rules.num_constraints is not None and rules.num_constraints.is_non_negative and column.num_present \
            and column.min < 0:
        found.append(Violation(rules.name, CheckType.NON_NEGATIVE,
                               f"values go down to {column.min:g}, the baseline has none below zero"))
    if rules.string_constraints is not None and column.frequent is not None and column.num_present:
        domain = set(rules.string_constraints.domains)
        inside = sum(count for value, count in column.frequent.counts.items() if value in domain)
        share = inside / column.num_present
        if share < rules.monitoring_config.domain_content_threshold:
            strangers = [value for value, _ in column.frequent.top() if value not in domain][:5]
            found.append(Violation(
                rules.name, CheckType.CATEGORICAL_VALUES,
                f"{1 - share:.2%} of values are outside the baseline's domain, e.g. {', '.join(map(repr, strangers))}",
            ))
    return found
