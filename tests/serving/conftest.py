"""Serving fixtures: a registry over SQLite and PostgreSQL, model packages, the serving service."""

from pathlib import Path

import pytest
from _registry_workers import make_registry
from _serving_models import write_broken, write_line

from slipway.registry import RegistryService
from slipway.serving import ServingService
from slipway.store import Database


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_line(tmp_path_factory.mktemp("serving-package") / "line")


@pytest.fixture(scope="session")
def broken_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_broken(tmp_path_factory.mktemp("serving-broken") / "broken")


@pytest.fixture
def registry(db: Database, tmp_path: Path) -> RegistryService:
    return make_registry(db, tmp_path)


@pytest.fixture
def serving(db: Database, registry: RegistryService) -> ServingService:
    return ServingService(db, registry)
