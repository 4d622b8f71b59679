"""Fixtures for the pipeline tests: one warm worker pool for the session, a service per test.

Starting worker processes (and importing scikit-learn in them) costs seconds; sharing the pool
between tests keeps the suite fast, and is what a long-lived service does anyway. Each test still
gets its own store: tasks carry the recipe for their store's services, so one pool serves them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from slipway import Client, load_settings
from slipway._backend import Backend
from slipway.cli import app
from slipway.pipelines import LocalExecutor, PipelineService, ServiceSpec


@pytest.fixture(scope="session")
def pool() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(max_workers=2)
    yield executor
    executor.close()


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    """A file where test steps record each real run (see ``_pipeline_steps.count_run``)."""
    return tmp_path / "runs.txt"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    made = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home")))
    yield made
    made.close()


@pytest.fixture
def service(backend: Backend, pool: LocalExecutor) -> Iterator[PipelineService]:
    made = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings), local_executor=pool)
    yield made
    made.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: LocalExecutor) -> Path:
    """A fresh SLIPWAY_HOME whose clients run pipelines on the session's pool (the CLI's included)."""
    path = tmp_path / "home"
    monkeypatch.setenv("SLIPWAY_HOME", str(path))
    monkeypatch.setenv("COLUMNS", "200")

    def pipelines(backend: Backend) -> PipelineService:
        return PipelineService(
            backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings), local_executor=pool
        )

    shared = functools.cached_property(pipelines)
    shared.__set_name__(Backend, "pipelines")
    monkeypatch.setattr(Backend, "pipelines", shared)
    return path


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    """An embedded client on ``home``."""
    with Client(load_settings()) as made:
        yield made


@pytest.fixture
def cli(home: Path) -> Callable[..., Result]:
    """Run ``slipway ARGS...`` in-process on ``home``."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    return invoke
