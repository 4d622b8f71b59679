"""Tracking records: immutable values returned by the service and sent over the wire."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

# A dataset input's limits: MLflow's own (mlflow/utils/validation.py), so what its client logs fits.
MAX_DATASET_NAME = 500
MAX_DATASET_DIGEST = 36
MAX_DATASET_CONTEXT = 500
MAX_DATASET_SOURCE_TYPE = 64
MAX_DATASET_SOURCE = 65_535
MAX_DATASET_SCHEMA = 1_048_575
MAX_DATASET_PROFILE = 16_777_215


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


def _float_out(value: float) -> float | str:
    """JSON has no NaN or Infinity: send them as strings, read them back as floats."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class Metric(Record):
    key: str
    value: float
    step: int = 0
    timestamp: int = 0  # milliseconds since the epoch, UTC

    @field_serializer("value")
    def _ser_value(self, value: float) -> float | str:
        return _float_out(value)

    @field_validator("value", mode="before")
    @classmethod
    def _parse_value(cls, value: Any) -> Any:
        return float(value) if isinstance(value, str) else value


class Experiment(Record):
    id: str
    name: str
    description: str | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    tags: dict[str, str] = {}
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class DatasetInput(Record):
    """A data set a run read, as MLflow's ``log_input`` describes it: which one, where from, what for.

    A run reads a data set once per ``(name, digest, context)``; logging it again replaces the entry.

    Attributes:
        name: the data set's name (``dataset.name`` in MLflow).
        digest: a short hash of its content, which tells versions with one name apart.
        context: what the run used it for (``training``, ``validation``, ``test``), MLflow's
            ``mlflow.data.context`` input tag; None when not said.
        source_type: the kind of place it was read from (``local``, ``s3``, ``http``, ``code``).
        source: that place, as JSON text (MLflow's source, e.g. ``{"uri": "s3://bucket/abalone.csv"}``).
        data_schema: its columns and types, as JSON text (MLflow's ``schema``).
        profile: summary statistics, as JSON text (number of rows, of elements).
        tags: the input's other tags.
    """

    name: str = Field(min_length=1, max_length=MAX_DATASET_NAME)
    digest: str = Field(min_length=1, max_length=MAX_DATASET_DIGEST)
    context: str | None = Field(None, max_length=MAX_DATASET_CONTEXT)
    source_type: str | None = Field(None, max_length=MAX_DATASET_SOURCE_TYPE)
    source: str | None = Field(None, max_length=MAX_DATASET_SOURCE)
    data_schema: str | None = Field(None, max_length=MAX_DATASET_SCHEMA)
    profile: str | None = Field(None, max_length=MAX_DATASET_PROFILE)
    tags: dict[str, str] = {}


class Run(Record):
    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    parent_run_id: str | None = None
    user: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: dict[str, Metric] = {}  # the latest point of each key
    inputs: list[DatasetInput] = []  # the data sets it read, in the order first logged

    @property
    def duration(self) -> dt.timedelta | None:
        return None if self.end_time is None else self.end_time - self.start_time


class RunPage(Record):
    """One page of a search; pass ``next_page_token`` back for the next page."""

    runs: list[Run]
    next_page_token: str | None = None


class RunComparison(Record):
    """Runs side by side: every param and latest metric, and which params differ."""

    run_ids: list[str]
    run_names: list[str]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[Metric | None]]
    differing_params: list[str]
