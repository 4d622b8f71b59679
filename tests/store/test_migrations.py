"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

import importlib
import math
import os
import pkgutil
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import slipway
from slipway.errors import Conflict, InvalidInput, ServiceUnavailable
from slipway.store import Database, current_revision, head_revision, metadata

pytestmark = pytest.mark.migrations  # fresh SQLite stores here run the migrations, not the tests' migrated copy


def _import_all_tables() -> None:
    for mod in pkgutil.walk_packages(slipway.__path__, "slipway."):
        if mod.name.endswith("._tables"):
            importlib.import_module(mod.name)


def test_migrated_schema_matches_declared_tables(db: Database) -> None:
    _import_all_tables()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"tables and migrations disagree; write a migration (scripts/new_migration.py): {diff}"
    assert current_revision(db) == head_revision()


def test_sqlite_is_upgraded_on_first_use(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}")
    assert current_revision(db) is None
    db.ensure_schema()
    assert current_revision(db) == head_revision()


def test_postgres_is_not_upgraded_behind_the_users_back(pg_template) -> None:
    from _services import PG_ADMIN_URL
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "slipway_empty"'))
        conn.execute(text('CREATE DATABASE "slipway_empty"'))
    db = Database(make_url(PG_ADMIN_URL).set(database="slipway_empty").render_as_string(hide_password=False))
    try:
        with pytest.raises(ServiceUnavailable, match="slipway db upgrade"):
            db.ensure_schema()
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "slipway_empty" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url", "sqlite+nodriver:///x.db"])
def test_unsupported_database_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        Database(url)


def test_unreachable_postgres_is_a_clear_error() -> None:
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(ServiceUnavailable, match="cannot reach PostgreSQL"):
        db.ensure_schema()


SEALING = "0013"  # the migration that seals registered model versions and records their content hash


def test_versions_registered_before_sealing_are_sealed_with_their_content_hash(tmp_path) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from slipway.store import upgrade
    from slipway.store._migrate import _config
    from slipway.store.artifacts import ArtifactStore, LocalStorage, Owner, tree_digest

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    before = ScriptDirectory.from_config(_config()).get_revision(SEALING).down_revision
    upgrade(db, str(before))
    files = {"MLmodel": "a" * 64, "model.skops": "b" * 64}
    with db.write() as conn:  # two versions as the code of that time left them: rows only
        conn.execute(text("INSERT INTO model_groups (id, name, last_version, created_by, created_at, updated_by, "
                          "updated_at) VALUES ('g1', 'old', 2, 'ann', 0, 'ann', 0)"))
        for number, status in ((1, "Approved"), (2, "Rejected")):
            conn.execute(text(
                "INSERT INTO model_versions (id, group_id, version, meta, status, archived, registered_by, "
                "created_at, updated_by, updated_at) VALUES (:id, 'g1', :n, '{}', :status, false, 'ann', 0, 'ann', 0)"
            ), {"id": f"v{number}", "n": number, "status": status})
            for path, sha in files.items():
                conn.execute(text("INSERT INTO artifacts (owner_kind, owner_id, path, sha256, size, created_at) "
                                  "VALUES ('model_version', :id, :path, :sha, 1, 0)"),
                             {"id": f"v{number}", "path": path, "sha": sha})
    upgrade(db)
    with db.read() as conn:
        hashes = conn.execute(text("SELECT id, content_hash, approved_content_hash FROM model_versions ORDER BY id"))
        assert [tuple(r) for r in hashes] == [("v1", tree_digest(files.items()), tree_digest(files.items())),
                                             ("v2", tree_digest(files.items()), None)]
    store = ArtifactStore(db, LocalStorage(tmp_path / "artifacts"))
    with pytest.raises(Conflict, match="sealed"):
        store.put_bytes(Owner("model_version", "v1"), "extra.txt", b"late")
    db.dispose()


METRIC_SERIES = "0019"  # the migration that moves metric points into metric_series and metric_points


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """An empty database, no migration applied: a scratch one of its own on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield db
        db.dispose()
        return
    from _services import PG_ADMIN_URL
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    request.getfixturevalue("pg_template")  # skips the test where there is no PostgreSQL
    name = f"slipway_old_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_metrics_logged_before_series_are_all_read_back_after_the_upgrade(empty_db: Database, tmp_path) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from slipway.store import upgrade
    from slipway.store._migrate import _config
    from slipway.store.artifacts import ArtifactStore, LocalStorage
    from slipway.tracking import TrackingService

    db = empty_db
    upgrade(db, str(ScriptDirectory.from_config(_config()).get_revision(METRIC_SERIES).down_revision))
    # (run, key, value, is_nan, step, timestamp) in the order logged: ties on step and time, NaN, infinity
    logged = [("r1", "loss", 3.0, False, 5, 1000), ("r1", "loss", 9.0, False, 1, 5000),
              ("r2", "loss", 7.0, False, 0, 10), ("r1", "loss", 2.0, False, 5, 1000), ("r1", "acc", 0.0, True, 0, 10),
              ("r1", "loss", 2.0, False, 5, 1000), ("r1", "acc", math.inf, False, 1, 10),
              ("r1", "loss", -1.0, False, -3, 1000), ("r1", "loss", 8.0, False, 5, 999)]
    with db.write() as conn:  # as the code of that time left them
        conn.execute(text("INSERT INTO experiments (id, name, lifecycle_stage, created_by, created_at, updated_at) "
                          "VALUES ('e', 'old', 'active', 'ann', 0, 0)"))
        for run in ("r1", "r2"):
            conn.execute(text('INSERT INTO runs (id, experiment_id, name, status, start_time, "user", lifecycle_stage) '
                              "VALUES (:id, 'e', :id, 'RUNNING', 0, 'ann', 'active')"), {"id": run})
        conn.execute(text('INSERT INTO metrics (run_id, "key", value, is_nan, step, "timestamp") '
                          "VALUES (:r, :k, :v, :n, :s, :t)"),
                     [dict(zip("rkvnst", point, strict=True)) for point in logged])
    upgrade(db)
    tracking = TrackingService(db, ArtifactStore(db, LocalStorage(tmp_path / "artifacts")))
    tracking.log_metric("r1", "loss", 1.0, step=5, timestamp=1000)  # after the points it ties with
    logged.append(("r1", "loss", 1.0, False, 5, 1000))
    for run, key in (("r1", "loss"), ("r1", "acc"), ("r2", "loss")):
        expected = sorted(((p[4], p[5], i, p[2], p[3]) for i, p in enumerate(logged) if p[:2] == (run, key)))
        history = tracking.get_metric_history(run, key)
        assert [(m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value) for m in history] == [
            (s, t, "nan" if nan else v) for s, t, _, v, nan in expected
        ]
