"""Fixtures of the feature store: the service on SQLite (and PostgreSQL), online stores of both kinds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _services import REDIS_URL, missing_service, port_open

from slipway.datasets import DatasetService
from slipway.features import FeatureService, OfflineStore, OnlineStore, RedisOnlineStore, SqliteOnlineStore
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, LocalStorage


def make_service(db: Database, tmp_path: Path) -> FeatureService:
    artifacts = ArtifactStore(db, LocalStorage(tmp_path / "artifacts"))
    return FeatureService(db, OfflineStore(artifacts, tmp_path / "cache"), SqliteOnlineStore(tmp_path / "online.db"),
                          DatasetService(db, artifacts))


@pytest.fixture
def features(db: Database, tmp_path: Path) -> Iterator[FeatureService]:
    """The service with its catalog on SQLite and on PostgreSQL."""
    service = make_service(db, tmp_path)
    yield service
    service.close()


@pytest.fixture
def local_features(sqlite_db: Database, tmp_path: Path) -> Iterator[FeatureService]:
    """The service on SQLite only, for tests about data rather than the catalog."""
    service = make_service(sqlite_db, tmp_path)
    yield service
    service.close()


@pytest.fixture
def redis_store() -> Iterator[RedisOnlineStore]:
    """A Redis online store under a key prefix of its own; its keys are removed afterwards."""
    if not port_open("127.0.0.1", 6379):
        missing_service("Redis at 127.0.0.1:6379")
    store = RedisOnlineStore(REDIS_URL, prefix=f"slipway-test:{uuid.uuid4().hex}:")
    yield store
    client = store._client
    keys = list(client.scan_iter(match=f"{store.prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """The online store conformance fixture: every test using it runs on SQLite and on Redis."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_store")
        return
    store = SqliteOnlineStore(tmp_path / "online.db")
    yield store
    store.close()
