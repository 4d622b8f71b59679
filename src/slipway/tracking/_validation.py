"""Limits and checks on names, keys and values, with errors that name the offending field."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from slipway.errors import InvalidInput

MAX_NAME = 256
MAX_KEY = 250
MAX_PARAM_VALUE = 8000
MAX_TAG_VALUE = 8000
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1000
MAX_BATCH_TAGS = 1000
MAX_STEP = 2**63 - 1
# Times are stored as milliseconds since the epoch; these bounds are the ones a datetime can show.
MIN_TIME_MS = int(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
MAX_TIME_MS = int(dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC).timestamp() * 1000)

# Keys are paths of words: letters (any script), digits, and _ - . space / :
_KEY_RE = re.compile(r"[\w\-. /:]+")


def check_name(value: Any, field: str = "name", what: str | None = None) -> str:
    """A display name: 1 to 256 printable characters. ``what`` words the message ("run name")."""
    what = what or field
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}", field=field)
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{what} must not be empty", field=field)
    if len(stripped) > MAX_NAME:
        raise InvalidInput(f"{what} is {len(stripped)} characters long; the limit is {MAX_NAME}", field=field)
    if any(ord(ch) < 32 for ch in stripped):
        raise InvalidInput(f"{what} must not contain control characters", field=field)
    return stripped


def check_key(key: Any, kind: str) -> str:
    field = f"{kind}.key"
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{kind} key must be a non-empty string, got {key!r}", field=field)
    if len(key) > MAX_KEY:
        raise InvalidInput(f"{kind} key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY}", field=field)
    if not _KEY_RE.fullmatch(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidInput(
            f"{kind} key {key!r} has a reserved character: use letters, digits and _ - . space / :",
            field=field,
        )
    return key


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
