"""Automation fixtures: a backend on SQLite or PostgreSQL, a model package, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _automation import make_backend
from _serving_models import write_line
from _webhook import Hook

from slipway._backend import Backend


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_line(tmp_path_factory.mktemp("automation-package") / "line")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    made = make_backend(tmp_path / "home")
    yield made
    made.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A backend on SQLite, then on PostgreSQL."""
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    made = make_backend(tmp_path / "home", url)
    yield made
    made.close()


@pytest.fixture
def receiver() -> Iterator[Hook]:
    hook = Hook()
    yield hook
    hook.close()
