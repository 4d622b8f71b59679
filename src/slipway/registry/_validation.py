"""Checks on what callers hand the registry, with errors that name the offending field.

Metric names and tag keys follow the tracking rules, so a run's metrics and tags can be copied
onto a version unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from slipway._limits import MAX_COMMENT
from slipway._operations import Wire
from slipway._references import check_alias, check_name
from slipway._time import datetime_to_ms
from slipway.errors import InvalidInput
from slipway.registry._records import ApprovalStatus, MetricValue
from slipway.tracking import validation as tracking_rules

MAX_METADATA_BYTES = 1 << 20
MAX_METRICS = 1000

MetricInput = float | MetricValue | Mapping[str, float | None]
"""A metric as callers give it: a number, a MetricValue, or ``{"value": ..., "std": ...}``."""


def _finite(value: object, field: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, got {value!r}", field=field)
    return float(value)


def check_metrics(metrics: Mapping[str, MetricInput] | None) -> dict[str, MetricValue]:
    """Metrics as :class:`MetricValue`, each finite with a non-negative std.

    Non-finite values are refused rather than stored: they compare with nothing, and JSON has no
    spelling for them, so they could not survive the REST API.
    """
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidInput("metrics must be a mapping of name to value", field="metrics")
    if len(metrics) > MAX_METRICS:
        raise InvalidInput(f"{len(metrics)} metrics; the limit is {MAX_METRICS}", field="metrics")
    out = {}
    for name, given in metrics.items():
        name = tracking_rules.check_key(name, "metric")
        field = f"metrics.{name}"
        value: object = given
        std: object = None
        if isinstance(given, MetricValue):
            value, std = given.value, given.std
        elif isinstance(given, Mapping):
            value, std = given.get("value"), given.get("std")
        checked_std = None if std is None else _finite(std, f"{field}.std", f"the std of metric {name!r}")
        if checked_std is not None and checked_std < 0:
            raise InvalidInput(f"the std of metric {name!r} is negative ({std})", field=f"{field}.std")
        out[name] = MetricValue(value=_finite(value, field, f"metric {name!r}"), std=checked_std)
    return out


def check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Tags as strings, with the tracking limits on keys and values."""
    rules = tracking_rules
    return rules.check_mapping(tags, "tag", rules.MAX_TAG_VALUE, rules.MAX_BATCH_TAGS)


def dump_metadata(metadata: Mapping[str, Any] | None) -> str:
    """Free-form metadata as the JSON stored; it must be a JSON object of at most 1 MiB."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a mapping (a JSON object)", field="metadata")
    try:
        text = json.dumps(dict(metadata), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata has no JSON form: {exc}", field="metadata") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON", field="metadata")
    return text


def check_comment(comment: str | None) -> str | None:
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidInput(f"comment must be text of at most {MAX_COMMENT} characters", field="comment")
    return comment


def epoch_ms(when: dt.datetime | int, field: str = "when") -> int:
    """A moment as milliseconds since the epoch; a naive datetime is taken as UTC."""
    if isinstance(when, dt.datetime):
        return datetime_to_ms(when, field)
    if isinstance(when, bool) or not isinstance(when, int):
        raise InvalidInput(f"{field} must be a datetime or milliseconds since the epoch, got {when!r}", field=field)
    return when


def check_version_id(version_id: object) -> str:
    """Return ``version_id`` if it has the shape of an id (26 letters and digits, as ``new_id``).

    Checked before an id becomes an artifact owner, so a client cannot choose arbitrary owners.
    """
    if not isinstance(version_id, str) or len(version_id) != 26 or not version_id.isalnum():
        raise InvalidInput(f"{version_id!r} is not a model version id", field="version_id")
    return version_id


# ------------------------------------------------------------------- the API's argument types
# The service's annotations, as its REST routes and remote client read them (slipway._operations).
# A name that goes into a URL path is checked on the caller's side first, with the service's own
# check: "a/b" could not reach the right route, and must fail as the service would fail it.

_TAGS = "key -> value; keys as run tag keys"


def _json_number(value: Any) -> Any:
    """JSON has no NaN or Infinity: they go as strings, which the server refuses as the service does."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _metrics_body(metrics: Any) -> Any:
    """Metrics as JSON: MetricValue records as ``{"value", "std"}``; the server checks the rest."""
    if not isinstance(metrics, Mapping):
        return metrics
    out = {}
    for name, given in metrics.items():
        data = given.model_dump() if isinstance(given, MetricValue) else given
        out[name] = {k: _json_number(v) for k, v in data.items()} if isinstance(data, Mapping) else _json_number(data)
    return out


def _metadata_body(metadata: Any) -> Any:
    """Encoded by the service's own check, so what JSON cannot carry fails as it does embedded."""
    return None if metadata is None else json.loads(dump_metadata(metadata))


def _check_group(name: object) -> str:
    return check_name(name, "group")


GroupPath = Annotated[str, Wire(to_wire=_check_group)]  # a {group} of the path
GroupName = Annotated[str, Wire(name="group", to_wire=_check_group)]  # a group's name, as {group} of the path
AliasPath = Annotated[str, Wire(to_wire=check_alias)]
NewGroupName = Annotated[str, Field(description="1 to 128 letters, digits, _ . -, starting with a letter or digit")]
Tags = Annotated[Mapping[str, Any], Wire(dict[str, Any], to_wire=tracking_rules.texts), Field(description=_TAGS)]
Metrics = Annotated[
    Mapping[str, MetricInput],
    Wire(dict[str, Any], to_wire=_metrics_body),
    Field(description='name -> number, or {"value": number, "std": number}; finite numbers only'),
]
Metadata = Annotated[
    Mapping[str, Any], Wire(dict[str, Any], to_wire=_metadata_body),
    Field(description="free-form JSON object, at most 1 MiB"),
]
StatusName = Annotated[ApprovalStatus | str, Wire(str, to_wire=str)]
