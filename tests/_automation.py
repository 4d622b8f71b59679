"""Helpers for the automation tests: a backend of its own over a home folder and a database URL."""

from __future__ import annotations

from pathlib import Path

from slipway import load_settings
from slipway._backend import Backend


def make_backend(home: Path, db_url: str | None = None) -> Backend:
    """A backend on ``home`` (SQLite there unless ``db_url`` names another database)."""
    return Backend(load_settings(home=str(home), db_url=db_url))
