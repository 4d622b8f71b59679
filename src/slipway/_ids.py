"""Identifiers and time: sortable unique ids, UTC everywhere."""

from __future__ import annotations

import datetime as dt
import time

from ulid import ULID


def new_id() -> str:
    """A time-ordered unique id (ULID, 26 characters, lowercase) so ids sort by creation time."""
    return str(ULID()).lower()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now_ms() -> int:
    """Milliseconds since the epoch: the unit metric timestamps use."""
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
