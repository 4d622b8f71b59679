"""What a bias analysis looks at: the label, the facet (the sensitive column), the group, the predictions.

Every metric compares two sides of the data: the *facet* rows (``d``, the group that may be
disadvantaged: the facet column's value is one of ``facet_values``, or above ``facet_threshold``)
and the others (``a``). Labels and predictions are collapsed into positive or not the same way:
one of ``label_values``, or above ``label_threshold``. A facet given without values or a threshold
is compared one value against all the others, for each of its values, as the cloud stack does.
"""

from __future__ import annotations

import numbers
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from slipway.errors import InvalidInput


class BiasConfig(BaseModel):
    """The columns of a bias analysis and how they are read.

    Attributes:
        label: the observed outcome (the training label).
        facet: the sensitive column (``sex``, ``age``).
        label_values: the outcomes that count as positive (a list: binary or multi-class labels).
        label_threshold: instead, a number: a label above it is positive (``rings > 10``).
        facet_values: the facet values of the sensitive group; none (and no threshold): each value
            in turn against all others.
        facet_threshold: instead, a number: rows whose facet is above it form the sensitive group.
        group: an optional column of subgroups, for the conditional demographic disparity metrics
            (CDDL, CDDPL).
        predicted_label: the column holding the model's predictions, for post-training metrics;
            they are collapsed to positive or not like the label.

    Example:
        >>> BiasConfig(label="rings", label_threshold=10, facet="sex").label_value_or_threshold(29)
        '(10, 29]'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    facet: str
    label_values: tuple[Any, ...] | None = None
    label_threshold: int | float | None = None
    facet_values: tuple[Any, ...] | None = None
    facet_threshold: int | float | None = None
    group: str | None = None
    predicted_label: str | None = None

    @field_validator("label", "facet")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise ValueError("must name a column")
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> BiasConfig:
        if (self.label_values is None) == (self.label_threshold is None):
            raise ValueError("label_values: give either label_values or label_threshold (which labels are positive)")
        if self.label_values is not None and not self.label_values:
            raise ValueError("label_values: must name at least one value")
        if self.facet_values is not None and self.facet_threshold is not None:
            raise ValueError("facet_values: give facet_values or facet_threshold, not both")
        if self.facet_values is not None and not self.facet_values:
            raise ValueError("facet_values: must name at least one value")
        named = [self.label, self.facet, self.group, self.predicted_label]
        present = [n for n in named if n is not None]
        if len(set(present)) != len(present):
            raise ValueError("facet: label, facet, group and predicted_label must be different columns")
        return self

    @classmethod
    def of(cls, **fields: Any) -> BiasConfig:
        """Build a config, turning a wrong field into :class:`InvalidInput` naming it."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            message = str(error["msg"]).removeprefix("Value error, ")
            where = ".".join(str(p) for p in error["loc"])
            if not where:  # a rule across fields names its field first
                where, _, message = message.partition(": ")
            raise InvalidInput(f"{where}: {message}", field=where) from None

    def label_value_or_threshold(self, label_max: Any = None) -> str:
        """How the positive label reads in ``analysis.json``: the values, or the interval ``(t, max]``."""
        if self.label_values is not None:
            return ",".join(map(str, self.label_values))
        return _interval(self.label_threshold, label_max)

    def columns(self) -> list[str]:
        """The columns this analysis reads (features for the flip test come on top)."""
        return [c for c in (self.label, self.facet, self.group, self.predicted_label) if c is not None]


def _interval(threshold: Any, top: Any) -> str:
    """``(threshold, top]`` as pandas prints an interval: integers when both ends are, else floats."""
    if top is None:
        return f"({threshold}, inf]"
    if _integral(threshold) and _integral(top):
        return f"({int(threshold)}, {int(top)}]"
    return f"({float(threshold)}, {float(top)}]"


def _integral(value: Any) -> bool:
    return isinstance(value, numbers.Integral)
