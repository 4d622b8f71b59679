"""Records of the MLflow compatibility domain: immutable values returned by its service."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class LoggedModelStatus(StrEnum):
    """MLflow 3's states of a logged model: created, then finalized as ready or failed."""

    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


class LoggedModel(BaseModel):
    """An MLflow 3 logged model: a named model folder of an experiment, usually made by a run."""

    model_config = ConfigDict(frozen=True)

    id: str
    experiment_id: str
    name: str
    source_run_id: str | None = None
    status: LoggedModelStatus
    model_type: str | None = None
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class LinkKind(StrEnum):
    """What a run's link records: a logged model it read, or one it made (data sets it read are tracking's)."""

    MODEL_INPUT = "model_input"
    MODEL_OUTPUT = "model_output"
