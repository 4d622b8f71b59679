"""``constraints.json``: what current data must satisfy, suggested from a baseline's statistics.

The layout is the managed cloud monitor's (``version``, ``features[]`` with ``name``,
``inferred_type``, ``completeness``, ``num_constraints``, ``string_constraints`` and
``monitoring_config``), so the file a user already knows how to edit means the same here. The
suggestion is a starting point: users tighten or loosen it by hand, and a monitor checks against
whatever the file says.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from slipway.monitoring._distance import CATEGORICAL_METHODS, DEFAULT_THRESHOLDS, NUMERIC_METHODS, DriftMethod
from slipway.statistics import ColumnStatistics, DatasetStatistics, InferredType

FORMAT_VERSION = 0.0
MAX_DOMAIN = 50  # a text column with more distinct values is free text, not a set of categories
DEFAULT_NUMERIC_METHOD = DriftMethod.KOLMOGOROV_SMIRNOV
DEFAULT_CATEGORICAL_METHOD = DriftMethod.JENSEN_SHANNON

Switch = Literal["Enabled", "Disabled"]


class _Section(BaseModel):
    """A part of the file: unknown keys are refused, so a typo in a hand edit is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DistributionConstraints(_Section):
    """Whether and how the feature's distribution is compared with the baseline's."""

    perform_comparison: Switch = "Enabled"
    comparison_threshold: float = Field(ge=0)
    comparison_method: DriftMethod


class MonitoringConfig(_Section):
    """How strictly one feature is checked.

    Attributes:
        evaluate_constraints: whether the feature's constraints are checked at all.
        emit_metrics: whether its drift score is recorded as a metric.
        domain_content_threshold: the least share of present values that must lie in the domain.
        distribution_constraints: the drift comparison.
    """

    evaluate_constraints: Switch = "Enabled"
    emit_metrics: Switch = "Enabled"
    domain_content_threshold: float = Field(default=1.0, ge=0, le=1)
    distribution_constraints: DistributionConstraints


class NumConstraints(_Section):
    is_non_negative: bool


class StringConstraints(_Section):
    domains: list[str]


class FeatureConstraints(_Section):
    """The constraints of one feature.

    Attributes:
        completeness: the least share of rows that must have a value (1.0: never missing).
        num_constraints: for numbers; ``is_non_negative`` forbids values below zero.
        string_constraints: for text; ``domains`` lists the allowed values (absent: any value).
    """

    name: str
    inferred_type: InferredType
    completeness: float = Field(ge=0, le=1)
    num_constraints: NumConstraints | None = None
    string_constraints: StringConstraints | None = None
    monitoring_config: MonitoringConfig

    @model_validator(mode="after")
    def _method_fits_type(self) -> FeatureConstraints:
        method = self.monitoring_config.distribution_constraints.comparison_method
        allowed = CATEGORICAL_METHODS if self.inferred_type == "String" else NUMERIC_METHODS
        if method not in allowed:
            raise ValueError(
                f"feature {self.name!r}: {method} cannot compare {self.inferred_type} values; "
                f"use one of {', '.join(sorted(allowed))}"
            )
        return self


class Constraints(_Section):
    """The whole ``constraints.json`` document (see ``docs/monitoring.md``)."""

    version: float = FORMAT_VERSION
    features: list[FeatureConstraints]

    def feature(self, name: str) -> FeatureConstraints | None:
        return next((f for f in self.features if f.name == name), None)


def suggest_constraints(
    statistics: DatasetStatistics,
    *,
    numeric_method: DriftMethod = DEFAULT_NUMERIC_METHOD,
    categorical_method: DriftMethod = DEFAULT_CATEGORICAL_METHOD,
    thresholds: dict[DriftMethod, float] | None = None,
) -> Constraints:
    """Constraints that the baseline's own data satisfies, with a drift comparison per feature.

    Completeness is the baseline's own share of present values; a number that was never negative
    must stay so; a text column with at most ``MAX_DOMAIN`` values, all counted exactly, gets them
    as its domain.

    Args:
        statistics: the baseline's statistics.
        numeric_method, categorical_method: the drift distance for numbers and for text.
        thresholds: per method, the drift threshold (default: ``DEFAULT_THRESHOLDS``).

    Example:
        >>> constraints = suggest_constraints(compute_statistics(df))
        >>> constraints.feature("rings").num_constraints.is_non_negative
        True
    """
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    return Constraints(features=[
        _suggest(column, statistics.item_count, numeric_method if column.numeric else categorical_method, limits)
        for column in statistics
    ])


def _suggest(
    column: ColumnStatistics, rows: int, method: DriftMethod, limits: dict[DriftMethod, float]
) -> FeatureConstraints:
    num = NumConstraints(is_non_negative=column.min >= 0) if column.numeric and column.num_present else None
    text = None
    if column.frequent is not None and column.frequent.exact and 0 < len(column.frequent.counts) <= MAX_DOMAIN:
        text = StringConstraints(domains=sorted(column.frequent.counts))
    return FeatureConstraints(
        name=column.name,
        inferred_type=column.inferred_type,
        completeness=column.num_present / rows if rows else 1.0,
        num_constraints=num,
        string_constraints=text,
        monitoring_config=MonitoringConfig(distribution_constraints=DistributionConstraints(
            comparison_threshold=limits[method], comparison_method=method,
        )),
    )
