"""Identifiers: sortable unique ids (times live in :mod:`slipway._time`)."""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    """A time-ordered unique id (ULID, 26 characters, lowercase) so ids sort by creation time."""
    return str(ULID()).lower()
