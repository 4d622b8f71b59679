"""Request bodies of the REST API.

The models give the OpenAPI spec its types and reject what is not even the right shape (a string
where a number belongs, a missing field) with a 422. Domain rules (key and value sizes, reserved
characters, known statuses) stay in the tracking service, so an embedded and a remote caller get the
same error naming the same field; the limits are quoted in the field descriptions for readers of
the spec.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from slipway.tracking import RunStatus
from slipway.tracking import _validation as limits
from slipway.tracking._service import MAX_SEARCH_RESULTS


def _upper(value: Any) -> Any:
    """Statuses are accepted in any case, as the service accepts them."""
    return value.upper() if isinstance(value, str) else value


_DATETIME = TypeAdapter(dt.datetime)


def _time(value: Any) -> dt.datetime | int:
    """One validator rather than a union, so an error names the field and not a union member."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValidationError):
            return _DATETIME.validate_python(value)
    raise ValueError("expected an ISO 8601 time or milliseconds since the epoch")


Status = Annotated[RunStatus, BeforeValidator(_upper)]
Time = Annotated[
    dt.datetime | int,
    PlainValidator(_time),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]}),
    Field(description="ISO 8601 time, or milliseconds since the epoch (UTC)"),
]
Name = Annotated[
    str, Field(description=f"at most {limits.MAX_NAME} characters, no control, invisible or direction-changing ones")
]
Key = Annotated[
    str, Field(description=f"at most {limits.MAX_KEY} characters: letters, digits and _ - . space / :")
]
ParamMap = Annotated[
    dict[str, str], Field(description=f"key to value; values up to {limits.MAX_PARAM_VALUE} characters")
]
TagMap = Annotated[dict[str, str], Field(description=f"key to value; values up to {limits.MAX_TAG_VALUE} characters")]
Number = Annotated[
    float, Field(description='a number, or one of the strings "NaN", "Infinity", "-Infinity"')
]


class Body(BaseModel):
    """Unknown fields are an error: a misspelt field must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CreateExperiment(Body):
    name: Name
    description: str | None = None
    tags: TagMap | None = None


class GetOrCreateExperiment(Body):
    name: Name


class UpdateExperiment(Body):
    name: Name | None = None
    description: str | None = None


class KeyValue(Body):
    key: Key
    value: str


class CreateRun(Body):
    experiment_id: str | None = Field(None, description="the Default experiment when omitted")
    name: Name | None = Field(None, description="generated when omitted")
    tags: TagMap | None = None
    parent_run_id: str | None = None
    start_time: Time | None = Field(None, description="now when omitted")
    status: Status = RunStatus.RUNNING


class UpdateRun(Body):
    status: Status | None = None
    end_time: Time | None = None
    name: Name | None = None


class EndRun(Body):
    status: Status = RunStatus.FINISHED


class MetricPoint(Body):
    key: Key
    value: Number
    step: int = Field(0, description="any 64-bit integer, negative steps included")
    timestamp: int | None = Field(None, description="milliseconds since the epoch (UTC); now when omitted")


class LogBatch(Body):
    metrics: list[MetricPoint] = Field(
        default_factory=list, description=f"at most {limits.MAX_BATCH_METRICS} points"
    )
    params: ParamMap | None = None
    tags: TagMap | None = None


class SearchRuns(Body):
    experiment_ids: list[str] | None = Field(None, description="every experiment when omitted")
    filter: str | None = Field(None, description="e.g. \"metrics.mse < 5 and params.model = 'rf'\"")
    order_by: list[str] | None = Field(None, description='e.g. ["metrics.mse DESC"]; missing values last')
    max_results: int = Field(1000, ge=1, le=MAX_SEARCH_RESULTS)
    page_token: str | None = Field(None, description="next_page_token of the previous page")
    include_deleted: bool = False


class CompareRuns(Body):
    run_ids: list[str] = Field(min_length=1)
