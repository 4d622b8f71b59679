"""Fixtures for the pipeline tests: one warm worker pool for the session, a service per test.

Starting worker processes (and importing scikit-learn in them) costs seconds; sharing the pool
between tests keeps the suite fast, and is what a long-lived service does anyway. Each test still
gets its own store: tasks carry the recipe for their store's services, so one pool serves them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway import Client, load_settings
from slipway._backend import Backend
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
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(home=str(tmp_path / "home")) as made:
        yield made
