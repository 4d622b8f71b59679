"""Limits and checks on names, keys and values, with errors that name the offending field.

Public on purpose: the domains that store the same kinds of data (the registry's metadata, the
MLflow API's logged models) and the REST schemas keep tracking's limits, not copies of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, NotRequired

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
from typing_extensions import TypedDict

from slipway._limits import MAX_VALUE
from slipway._names import DISPLAY, KEY, normalize
from slipway._operations import Wire
from slipway._time import datetime_to_ms
from slipway.errors import InvalidInput
from slipway.tracking._records import DatasetInput, RunStatus

MAX_NAME = DISPLAY.max_length
MAX_KEY = KEY.max_length
MAX_PARAM_VALUE = MAX_VALUE
MAX_TAG_VALUE = MAX_VALUE
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1000
MAX_BATCH_TAGS = 1000
MAX_STEP = 2**63 - 1
# Times are stored as milliseconds since the epoch; these bounds are the ones a datetime can show.
MIN_TIME_MS = datetime_to_ms(dt.datetime(1, 1, 1, tzinfo=dt.UTC), "time")
MAX_TIME_MS = datetime_to_ms(dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC), "time")


def check_name(value: Any, field: str = "name", what: str | None = None) -> str:
    """A display name (see :data:`slipway._names.DISPLAY`). ``what`` words the message ("run name")."""
    return DISPLAY.check(value, field, what or field)


def lookup(name: Any) -> Any:
    """A name to look up as it would be stored (NFC); anything else as given, to be found by nothing."""
    return normalize(name) if isinstance(name, str) else name


def check_key(key: Any, kind: str) -> str:
    """A tag, param or metric key (see :data:`slipway._names.KEY`)."""
    return KEY.check(key, f"{kind}.key", f"{kind} key")


def check_value(value: Any, kind: str, key: str, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInput(
            f"{kind} {key!r} has a value of {len(text)} characters; the limit is {limit}", field=f"{kind}.{key}"
        )
    return text


@functools.lru_cache(maxsize=4096)
def _metric_key(key: str) -> str:
    """Metric keys repeat (a training loop logs the same few thousands of times): each is checked once."""
    return check_key(key, "metric")


def check_metric(key: Any, value: Any, step: Any) -> tuple[str, float, int]:
    """A metric point's key, value (a float: NaN and ±Inf allowed) and step (a 64-bit integer)."""
    key = _metric_key(key) if type(key) is str else check_key(key, "metric")
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", field=f"metric.{key}") from None
        value = float(value)
    if type(step) is not int:
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        elif isinstance(step, bool) or not isinstance(step, int):
            raise InvalidInput(f"metric {key!r}: step must be an integer, got {step!r}", field=f"metric.{key}.step")
        else:
            step = int(step)  # an int subclass
    if not in_step_range(step):
        raise InvalidInput(f"metric {key!r}: step {step} is out of the 64-bit range", field=f"metric.{key}.step")
    return key, value, step


def in_step_range(step: int) -> bool:
    return -MAX_STEP <= step <= MAX_STEP


def metric_mapping(item: Any) -> Mapping[str, Any]:
    """A batch entry (a metric record or a mapping) as a mapping; InvalidInput for anything else."""
    if isinstance(item, BaseModel):
        return item.model_dump()
    if isinstance(item, Mapping):
        return item
    raise InvalidInput(f"each metric must be a mapping with a key and a value, got {type(item).__name__}",
                       field="metrics")


def check_time_ms(ms: int, field: str) -> int:
    """A time in milliseconds that can be stored and read back as a datetime."""
    if isinstance(ms, bool) or not isinstance(ms, int) or not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise InvalidInput(f"{field} {ms!r} is not a time between the years 1 and 9999", field=field)
    return ms


def check_mapping(values: Mapping[str, Any] | None, kind: str, limit: int, max_items: int) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{kind}s must be a mapping of key to value", field=f"{kind}s")
    if len(values) > max_items:
        raise InvalidInput(f"{len(values)} {kind}s in one call; the limit is {max_items}", field=f"{kind}s")
    return {check_key(k, kind): check_value(v, kind, k, limit) for k, v in values.items()}


def storable(value: float) -> tuple[float, bool]:
    """(value to store, is_nan): SQLite cannot store NaN, so it is flagged and stored as 0."""
    return (0.0, True) if math.isnan(value) else (value, False)


# ------------------------------------------------------------------- the API's argument types
# The service's annotations, as its REST routes and remote client read them (slipway._operations):
# the field constraints and descriptions readers of the spec see, and how a value crosses JSON.


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


def texts(values: Any) -> Any:
    """Param and tag values as the service stores them (``str(value)``): JSON cannot carry every value."""
    if not isinstance(values, Mapping):
        return values  # None, or a wrong type that the server refuses as the service would
    return {key: str(value) for key, value in values.items()}


Status = Annotated[RunStatus | str, Wire(Annotated[RunStatus, BeforeValidator(_upper)])]
Time = Annotated[
    dt.datetime | int,
    PlainValidator(_time),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]}),
    Field(description="ISO 8601 time, or milliseconds since the epoch (UTC)"),
]
Name = Annotated[
    str, Field(description=f"at most {MAX_NAME} characters, no control, invisible or direction-changing ones")
]
Key = Annotated[str, Field(description=f"at most {MAX_KEY} characters: letters, digits and _ - . space / :")]
Text = Annotated[Any, Wire(str, to_wire=str)]  # any value; the service stores its text
ParamMap = Annotated[
    Mapping[str, Any],
    Wire(dict[str, str], to_wire=texts),
    Field(description=f"key to value; values up to {MAX_PARAM_VALUE} characters"),
]
TagMap = Annotated[
    Mapping[str, Any],
    Wire(dict[str, str], to_wire=texts),
    Field(description=f"key to value; values up to {MAX_TAG_VALUE} characters"),
]
Number = Annotated[float, Field(description='a number, or one of the strings "NaN", "Infinity", "-Infinity"')]


class MetricPoint(TypedDict):
    """One metric point of a batch, as JSON carries it.

    A typed dict, not a model: a server validates a batch of 10,000 of them per request, and a
    dict per point (which the service takes as it is) costs half what a model instance does.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    key: Key
    value: Number
    step: NotRequired[Annotated[int, Field(0, description="any 64-bit integer, negative steps included")]]
    timestamp: NotRequired[
        Annotated[int | None, Field(None, description="milliseconds since the epoch (UTC); now when omitted")]
    ]


def number(value: Any) -> Any:
    """A metric value for JSON, which has no NaN or Infinity: those go as "nan", "inf", "-inf"."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)  # not a number: the server refuses it, as the service would
    return number if math.isfinite(number) else str(number)


def _metric_points(items: Any) -> Any:
    """Metric records and mappings as batch points; anything else as given, for the server to refuse."""
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        return items
    points = []
    for item in items:
        if type(item) is dict and item.keys() <= _POINT_SET and _finite_float(item.get("value")):
            points.append(item)  # already as JSON carries it: the common case, a batch's thousands of dicts
            continue
        data = item.model_dump() if isinstance(item, BaseModel) else item
        if isinstance(data, Mapping):
            data = {name: data[name] for name in _POINT_FIELDS if name in data}
            if "value" in data:
                data["value"] = number(data["value"])
        points.append(data)
    return points


def _finite_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)


_POINT_FIELDS = tuple(MetricPoint.__annotations__)
_POINT_SET = frozenset(_POINT_FIELDS)


MetricPoints = Annotated[
    Iterable[Any],
    Wire(list[MetricPoint], to_wire=_metric_points),
    Field(description=f"at most {MAX_BATCH_METRICS} points"),
]


def _inputs_out(items: Any) -> Any:
    """Dataset inputs (records or mappings) as JSON; anything else as given, for the server to refuse."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        return items
    return [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in items]


DatasetInputs = Annotated[
    Iterable[DatasetInput | Mapping[str, Any]],
    Wire(list[DatasetInput], to_wire=_inputs_out),
    Field(description="the data sets the run read: name, digest, context, source_type, source, data_schema, "
                      "profile, tags; at most 1000 per call"),
]
