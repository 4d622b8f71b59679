"""Monitoring records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class MonitorKind(enum.StrEnum):
    DATA_QUALITY = "DataQuality"
    MODEL_QUALITY = "ModelQuality"
    MODEL_BIAS = "ModelBias"  # bias drift
    MODEL_EXPLAINABILITY = "ModelExplainability"  # feature-attribution drift


class ExecutionStatus(enum.StrEnum):
    COMPLETED = "Completed"
    COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
    FAILED = "Failed"


class AlarmState(enum.StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class BaselineVersion(Record):
    """One stored baseline: its files are ``statistics.json`` and ``constraints.json`` in the artifact store."""

    id: str
    name: str
    version: int
    item_count: int
    feature_count: int
    source: str | None = None
    created_by: str
    created_at: dt.datetime

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


class Monitor(Record):
    """A named check: data quality against a baseline, model quality against metric bounds, bias or
    feature-attribution drift against a clarify report.

    Attributes:
        baseline: ``name:version`` of the baseline a data-quality monitor compares with.
        endpoint: the endpoint whose captured traffic (and ground truth) a run reads when
            given no data.
        problem_type: for model quality, ``Regression``, ``BinaryClassification`` or
            ``MulticlassClassification``.
        thresholds: for model quality, bounds per metric: an error (``mae``, ``mse``, ``rmse``)
            must stay at or below its bound, any other metric at or above it.
        rules: for data quality, custom rules run after the built-in checks (``module:function``).
        report: for bias and attribution drift, the clarify report (id) that is the baseline.
        model: for attribution drift without an endpoint, the model version (``GROUP/VERSION``) explained.
        bias_config: for bias drift, the label, facet and group columns (a ``BiasConfig``'s fields).
        tolerance: for bias drift, how far a metric may move from the baseline's value.
        bounds: for bias drift, the largest magnitude per metric (``|DI - 1|`` for DI).
        ndcg_threshold: for attribution drift, the least nDCG of the feature ranking.
    """

    id: str
    name: str
    kind: MonitorKind
    baseline: str | None = None
    endpoint: str | None = None
    problem_type: str | None = None
    thresholds: dict[str, float] = {}
    rules: list[str] = []
    report: str | None = None
    model: str | None = None
    bias_config: dict[str, Any] | None = None
    tolerance: float | None = None
    bounds: dict[str, float] = {}
    ndcg_threshold: float | None = None
    created_by: str
    created_at: dt.datetime


class MonitorExecution(Record):
    """One run of a monitor: its outcome, counts and metrics; the report is stored as artifacts.

    ``window_start`` and ``window_end`` are the time span of the data checked: the window asked
    for, or else the times of the first and last captured records read; None for data given directly.
    """

    id: str
    monitor: str
    status: ExecutionStatus
    item_count: int
    violation_count: int
    message: str | None = None
    metrics: dict[str, float] = {}
    started_at: dt.datetime
    ended_at: dt.datetime
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None

    @property
    def duration(self) -> dt.timedelta:
        return self.ended_at - self.started_at


class Alarm(Record):
    """A threshold on a monitor's metric over the last ``evaluation_periods`` executions.

    The alarm is ``ALARM`` when at least ``datapoints_to_alarm`` of those executions cross the
    threshold, ``OK`` when fewer do, and ``INSUFFICIENT_DATA`` until the monitor has run that
    many times with the metric.
    """

    id: str
    name: str
    monitor: str
    metric: str
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    webhooks: list[str] = []
    state: AlarmState
    state_reason: str
    state_changed_at: dt.datetime
    created_by: str
    created_at: dt.datetime
