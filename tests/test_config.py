import os
from pathlib import Path

import pytest

from slipway import load_settings
from slipway.errors import InvalidInput


def test_defaults_live_under_dot_slipway(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=tmp_path)
    assert s.home == tmp_path / ".slipway"
    assert s.db_url == f"sqlite:///{tmp_path / '.slipway' / 'slipway.db'}"
    assert s.artifact_url == str(tmp_path / ".slipway" / "artifacts")
    assert not s.remote
    assert {name: src for name, _, src in s.items()}["home"] == "default"


def test_environment_beats_toml_and_sources_are_reported(tmp_path: Path) -> None:
    (tmp_path / "slipway.toml").write_text('[slipway]\nhome = "from-toml"\nartifact_url = "s3://b/p"\n')
    s = load_settings(env={"SLIPWAY_HOME": str(tmp_path / "env-home")}, cwd=tmp_path)
    assert s.home == tmp_path / "env-home"
    assert s.artifact_url == "s3://b/p"
    sources = {name: src for name, _, src in s.items()}
    assert sources["home"] == "env SLIPWAY_HOME"
    assert sources["artifact_url"] == str(tmp_path / "slipway.toml")


def test_token_is_never_displayed(tmp_path: Path) -> None:
    s = load_settings(
        env={"SLIPWAY_TOKEN": "secret-value", "SLIPWAY_SERVER_URL": "http://127.0.0.1:5000/"}, cwd=tmp_path
    )
    assert s.remote and s.server_url == "http://127.0.0.1:5000"
    assert "secret-value" not in str(s.items())


@pytest.mark.parametrize(
    ("text", "message"),
    [("home = [", "not valid TOML"), ('colour = "red"', "unknown setting")],
)
def test_bad_toml_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "slipway.toml").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        load_settings(env={}, cwd=tmp_path)


def test_missing_config_file_named_by_env(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_settings(env={"SLIPWAY_CONFIG": str(tmp_path / "nope.toml")}, cwd=tmp_path)


def test_online_store_and_dataset_roots(tmp_path: Path) -> None:
    default = load_settings(env={}, cwd=tmp_path)
    assert default.online_url == f"sqlite:///{tmp_path / '.slipway' / 'online.db'}"
    assert default.dataset_roots is None  # any readable path
    s = load_settings(
        env={"SLIPWAY_ONLINE_URL": "redis://127.0.0.1:6379/2", "SLIPWAY_DATASET_ROOTS": f"/data{os.pathsep}/srv/x"},
        cwd=tmp_path,
    )
    assert s.online_url == "redis://127.0.0.1:6379/2"
    assert s.dataset_roots == (Path("/data"), Path("/srv/x"))
    assert dict((n, v) for n, v, _ in s.items())["dataset_roots"] == f"/data{os.pathsep}/srv/x"


def test_protected_aliases_default_and_override(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path).protected_aliases == ("prod", "production", "champion")
    assert load_settings(env={"SLIPWAY_PROTECTED_ALIASES": "prod, blue"}, cwd=tmp_path).protected_aliases == (
        "prod", "blue")
    (tmp_path / "slipway.toml").write_text("[slipway]\nprotected_aliases = []\n")
    assert load_settings(env={}, cwd=tmp_path).protected_aliases == ()
    with pytest.raises(InvalidInput, match="a protected alias 'Prod'") as refused:  # a typo must not unprotect it
        load_settings(env={"SLIPWAY_PROTECTED_ALIASES": "Prod"}, cwd=tmp_path)
    assert refused.value.field == "protected_aliases"


def test_db_synchronous_is_normal_by_default_full_on_request_and_reaches_sqlite(tmp_path: Path) -> None:
    from sqlalchemy import text

    from slipway.store._db import Database

    assert load_settings(env={}, cwd=tmp_path).db_synchronous == "NORMAL"
    settings = load_settings(env={"SLIPWAY_DB_SYNCHRONOUS": "full"}, cwd=tmp_path)
    assert settings.db_synchronous == "FULL"
    with pytest.raises(InvalidInput, match="NORMAL or FULL"):
        load_settings(env={"SLIPWAY_DB_SYNCHRONOUS": "OFF"}, cwd=tmp_path)
    # SQLite reports the level as a number: 1 NORMAL, 2 FULL.
    for level, code in (("NORMAL", 1), ("FULL", 2)):
        db = Database(f"sqlite:///{tmp_path / level}.db", synchronous=level)
        with db.read() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == code
        db.engine.dispose()
