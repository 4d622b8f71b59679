"""Limits and checks on names, keys and values, with errors that name the offending field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from slipway._names import DISPLAY, KEY, normalize
from slipway.errors import InvalidInput

MAX_NAME = DISPLAY.max_length
MAX_KEY = KEY.max_length
MAX_PARAM_VALUE = 8000
MAX_TAG_VALUE = 8000
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1000
MAX_BATCH_TAGS = 1000
MAX_STEP = 2**63 - 1
# Times are stored as milliseconds since the epoch; these bounds are the ones a datetime can show.
MIN_TIME_MS = int(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
MAX_TIME_MS = int(dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC).timestamp() * 1000)


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


def check_metric(key: Any, value: Any, step: Any) -> tuple[str, float, int]:
    key = check_key(key, "metric")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", field=f"metric.{key}") from None
    value = float(value)
    if isinstance(step, bool) or not isinstance(step, int):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:
            raise InvalidInput(f"metric {key!r}: step must be an integer, got {step!r}", field=f"metric.{key}.step")
    if abs(step) > MAX_STEP:
        raise InvalidInput(f"metric {key!r}: step {step} is out of the 64-bit range", field=f"metric.{key}.step")
    return key, value, step


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
