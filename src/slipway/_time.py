"""Time: UTC everywhere, stored as integer milliseconds since the Unix epoch.

The metadata database keeps every moment as milliseconds since 1970-01-01 UTC; records carry
timezone-aware UTC datetimes. These functions are the only conversions between the two, so every
domain reads and writes times the same way.

One rule for times handed in: a ``datetime`` must carry its time zone. A naive one could be UTC or
the caller's local time, and guessing wrong silently shifts a window by hours, so it is refused
with :class:`~slipway.errors.InvalidInput` naming the argument. Faces that read text typed by a
person (the CLI, the search language) take a zone-less time as UTC before it reaches a service.

Example:
    >>> ms_to_datetime(0)
    datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> datetime_to_ms(ms_to_datetime(1_700_000_000_123))
    1700000000123
"""

from __future__ import annotations

import datetime as dt
import time
from typing import overload

from slipway.errors import InvalidInput

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def utcnow() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def now_ms() -> int:
    """Now, in milliseconds since the epoch: the unit every stored time uses."""
    return time.time_ns() // 1_000_000


@overload
def ms_to_datetime(ms: int) -> dt.datetime: ...


@overload
def ms_to_datetime(ms: None) -> None: ...


@overload
def ms_to_datetime(ms: int | None) -> dt.datetime | None: ...


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    """A stored time (milliseconds since the epoch) as an aware UTC datetime; None stays None."""
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def check_aware(when: dt.datetime, field: str) -> dt.datetime:
    """``when`` if it is a datetime that carries its time zone.

    Raises:
        InvalidInput: naming ``field``, for anything else (a naive datetime included).
    """
    if not isinstance(when, dt.datetime):
        raise InvalidInput(f"{field} must be a datetime, not {when!r}", field=field)
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(
            f"{field} must carry a time zone, e.g. datetime.now(datetime.UTC): a naive time is ambiguous",
            field=field,
        )
    return when


def datetime_to_ms(when: dt.datetime, field: str) -> int:
    """An aware datetime as milliseconds since the epoch (exact, rounded down to the millisecond).

    Raises:
        InvalidInput: naming ``field``, for a naive datetime or something that is not one.
    """
    return (check_aware(when, field) - EPOCH) // _MS
