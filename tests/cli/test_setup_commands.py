"""``slipway config``, ``slipway db`` and ``slipway server`` (its arguments; serving is tested end to end)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import Result

from slipway import server
from slipway.store import head_revision

Cli = Callable[..., Result]  # the `cli` fixture: run `slipway ARGS...` in-process


def test_config_shows_values_and_their_sources(cli: Cli, home: Path, tmp_path: Path) -> None:
    (tmp_path / "slipway.toml").write_text('[slipway]\nartifact_url = "s3://bucket/prefix"\n')
    result = cli("config")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    home_line = next(line for line in lines if line.split()[:1] == ["home"])
    assert str(home) in home_line and "env SLIPWAY_HOME" in home_line
    artifact_line = next(line for line in lines if line.split()[:1] == ["artifact_url"])
    assert "s3://bucket/prefix" in artifact_line and str(tmp_path / "slipway.toml") in artifact_line
    server_line = next(line for line in lines if line.split()[:1] == ["server_url"])
    assert "not set" in server_line and "default" in server_line


def test_config_json_and_the_token_stays_hidden(cli: Cli, home: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_TOKEN", "s3cr3t")
    result = cli("config", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["home"] == {"name": "home", "value": str(home), "source": "env SLIPWAY_HOME"}
    assert rows["server_url"]["value"] is None
    assert rows["token"]["value"] == "****"
    assert "s3cr3t" not in result.stdout


def test_db_upgrade_on_a_fresh_sqlite_file_then_again(cli: Cli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db_file = tmp_path / "fresh" / "meta.db"
    monkeypatch.setenv("SLIPWAY_DB_URL", f"sqlite:///{db_file}")
    before = cli("db", "current")
    assert before.exit_code == 0
    assert "Revision: (empty)" in before.stdout and "Out of date" in before.stdout

    first = cli("db", "upgrade")
    assert first.exit_code == 0
    assert f"from revision (empty) to {head_revision()}" in first.stdout
    assert db_file.is_file()

    again = cli("db", "upgrade")
    assert again.exit_code == 0
    assert f"already at the newest revision {head_revision()}" in again.stdout

    after = cli("db", "current")
    assert f"Revision: {head_revision()}" in after.stdout and "Up to date." in after.stdout


@pytest.fixture
def empty_pg_url(pg_url: str) -> str:
    """A PostgreSQL database with nothing in it: what an operator upgrades with `slipway db upgrade`."""
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_url


@pytest.mark.postgres
def test_db_upgrade_on_postgresql(cli: Cli, empty_pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_DB_URL", empty_pg_url)
    assert "Out of date" in cli("db", "current").stdout
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"from revision (empty) to {head_revision()}" in result.stdout
    assert "Up to date." in cli("db", "current").stdout


def test_db_upgrade_rejects_an_unsupported_url(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_DB_URL", "mysql://somewhere/db")
    result = cli("db", "upgrade")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unsupported database 'mysql'")
    assert len(result.stderr.splitlines()) == 1


@pytest.fixture
def serve_calls(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what ``slipway server`` asks of :func:`slipway.server.serve` instead of serving (store: an admin)."""
    assert cli("users", "create", "alice", "--role", "admin").exit_code == 0
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server, "serve", lambda settings, **kw: calls.append({"settings": settings, **kw}))
    return calls


def test_server_defaults_to_loopback_without_a_warning(cli: Cli, home: Path,
                                                        serve_calls: list[dict[str, Any]]) -> None:
    result = cli("server")
    assert result.exit_code == 0
    assert "warning" not in result.stderr
    assert "http://127.0.0.1:5000" in result.stdout
    [call] = serve_calls
    assert (call["host"], call["port"], call["workers"], call["log_level"]) == ("127.0.0.1", 5000, 1, "info")
    assert call["settings"].home == home


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "my-laptop.lan"])
def test_server_warns_when_other_machines_can_reach_it(cli: Cli, host: str,
                                                        serve_calls: list[dict[str, Any]]) -> None:
    result = cli("server", "--host", host, "--port", "8123", "--workers", "2", "--log-level", "debug")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: listening on {host}, which other machines can reach")
    [call] = serve_calls
    assert (call["host"], call["port"], call["workers"], call["log_level"]) == (host, 8123, 2, "debug")


@pytest.mark.parametrize("host", ["localhost", "::1", "127.0.0.2"])
def test_server_loopback_spellings_do_not_warn(cli: Cli, host: str,
                                                serve_calls: list[dict[str, Any]]) -> None:
    result = cli("server", "--host", host)
    assert result.exit_code == 0 and result.stderr == ""


def test_server_without_users_says_how_to_make_the_first_admin(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "serve", lambda settings, **kw: None)
    result = cli("server")
    assert result.exit_code == 0
    assert "no users yet" in result.stderr and "slipway users create NAME --role admin" in result.stderr


def test_server_rejects_a_port_out_of_range(cli: Cli, serve_calls: list[dict[str, Any]]) -> None:
    result = cli("server", "--port", "70000")
    assert result.exit_code == 2
    assert serve_calls == []
