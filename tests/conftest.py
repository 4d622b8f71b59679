"""Shared fixtures: databases (SQLite and PostgreSQL), artifact stores, isolated settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _durations
import _sqlite_template
import pytest
from _pg_databases import PgDatabases
from _services import PG_ADMIN_URL, missing_service, port_open
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from slipway.store import Database, upgrade

pytest_plugins = ["_s3"]

LOOPBACK_WEBHOOKS = "127.0.0.1"


@pytest.hookimpl(optionalhook=True)  # without xdist (-p no:xdist) pytest knows no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How `make test` spreads the suite over its workers (pytest-xdist).

    A file's tests stay together on one worker, so its module-scoped servers start once; and every
    file that uses the Ray cluster runs on one worker, so a run starts one cluster (a Ray node and
    its workers are the heaviest thing the suite starts), not one per worker. (xdist's own
    xdist_group marks cannot say this under pytest 9.2, which no longer lets them rename node ids.)
    Workers take the longest files first, by the seconds recorded in tests/durations.json, so no
    long file (the Ray ones, a bench smoke test) starts last while the other worker runs out of work.
    """
    from xdist.scheduler import LoadScopeScheduling

    on_ray: dict[str, bool] = {}

    def uses_ray(file: str) -> bool:
        if file not in on_ray:
            on_ray[file] = "ray_cluster" in (config.rootpath / file).read_text(encoding="utf-8")
        return on_ray[file]

    class ByFileRayTogether(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "ray" if uses_ray(file) else file

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the first assignment: the whole queue is known
                self.ordered = True
                expected = _durations.expected_seconds(self.workqueue)
                longest_first = sorted(self.workqueue.items(), key=lambda unit: -expected[unit[0]])
                self.workqueue.clear()
                self.workqueue.update(longest_first)
            super()._assign_work_unit(node)

    return ByFileRayTogether(config, log)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each test file's seconds in this run to tests/durations.json (the order make test's workers take)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):  # the controller sees every test
        config.pluginmanager.register(_durations.Recorder(config.rootpath), "slipway-durations")
    config.addinivalue_line(
        "markers",
        "migrations: runs the real migrations on every fresh SQLite store "
        "(others start from a migrated copy, tests/_sqlite_template.py)",
    )


@pytest.fixture(scope="session", autouse=True)
def _sqlite_from_template() -> Iterator[None]:
    """Fresh SQLite stores of this process start as a copy of one migrated file (tests/_sqlite_template.py)."""
    _sqlite_template.install()
    yield
    _sqlite_template.uninstall()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """No test reads the developer's own settings or writes into the checkout."""
    _sqlite_template.enabled = request.node.get_closest_marker("migrations") is None
    for var in (
        "SLIPWAY_HOME",
        "SLIPWAY_DB_URL",
        "SLIPWAY_ARTIFACT_URL",
        "SLIPWAY_SERVER_URL",
        "SLIPWAY_TOKEN",
        "SLIPWAY_CONFIG",
        "SLIPWAY_ONLINE_URL",
        "SLIPWAY_DATASET_ROOTS",
        "SLIPWAY_PIPELINE_MODULES",
        "SLIPWAY_MAX_REQUEST_BYTES",
        "SLIPWAY_MAX_UPLOAD_BYTES",
        "SLIPWAY_SCHEDULER_INTERVAL",
        "SLIPWAY_ALLOWED_HOSTS",
        "SLIPWAY_DB_TIMEOUT",
        "SLIPWAY_DB_SYNCHRONOUS",
        "SLIPWAY_ASYNC_LOGGING",
        "SLIPWAY_LEASE_SECONDS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLIPWAY_WEBHOOK_HOSTS", LOOPBACK_WEBHOOKS)  # test receivers listen on 127.0.0.1
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster for the whole session (two CPUs: two workers at once); started on first use."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home
    # Ray Train's controller looks at its workers every 2 s by default: a finished training would wait for it.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
    ray.init(
        num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    db.ensure_schema()
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test gets a fresh copy of it."""
    if not port_open("127.0.0.1", 5432):
        missing_service("PostgreSQL at 127.0.0.1:5432")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"slipway_tpl_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    tpl = Database(url)
    upgrade(tpl)
    tpl.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_databases(pg_template: str) -> Iterator[PgDatabases]:
    databases = PgDatabases(PG_ADMIN_URL, pg_template)
    yield databases
    databases.close()


@pytest.fixture
def pg_url(_pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh PostgreSQL database of the test's own, copied from the migrated template (made ahead, dropped behind)."""
    name = _pg_databases.take()
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    _pg_databases.release(name)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    db.ensure_schema()
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    """The store conformance fixture: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_db")
    return request.getfixturevalue("pg_db")
