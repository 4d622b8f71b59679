"""The installed ``slipway`` executable, end to end, in embedded mode and against a real server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import slipway
from slipway import Client, load_settings

_EXE = shutil.which("slipway", path=str(Path(sys.executable).parent)) or shutil.which("slipway")


def slipway_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the executable as a user would, in a wide terminal, with this process's environment."""
    assert _EXE, "the slipway executable is not installed next to this Python"
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([_EXE, *args], env=full_env, capture_output=True, text=True, timeout=60,
                          check=False)


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_embedded_end_to_end(home: Path, client: Client, tmp_path: Path) -> None:
    created = slipway_cli("experiments", "create", "abalone", "--description", "age", "--tag", "team=fish")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Created experiment abalone (")

    ids = {}
    for name, alpha, mse in (("a", "0.5", 4.0), ("b", "0.1", 3.0), ("c", "2.0", 9.0)):
        with slipway.start_run("abalone", name=name, client=client) as run:
            run.log_params({"alpha": alpha})
            run.log_metric("mse", mse)
        ids[name] = run.id

    listed = slipway_cli("runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert all(_lines_with(listed.stdout, run_id) for run_id in ids.values())

    found = slipway_cli("runs", "search", "metrics.mse < 5")
    assert found.returncode == 0, found.stderr
    assert {name for name, run_id in ids.items() if _lines_with(found.stdout, run_id)} == {"a", "b"}

    as_json = slipway_cli("runs", "search", "metrics.mse < 5", "--order-by", "metrics.mse", "--json")
    assert [r["name"] for r in json.loads(as_json.stdout)] == ["b", "a"]

    compared = slipway_cli("runs", "compare", ids["a"], ids["c"])
    assert compared.returncode == 0
    assert _lines_with(compared.stdout, "params.alpha")[0].split() == ["≠", "params.alpha", "0.5", "2.0"]

    shown = slipway_cli("runs", "show", ids["b"])
    assert shown.returncode == 0
    assert _lines_with(shown.stdout, "alpha")[0].split() == ["alpha", "0.1"]
    assert _lines_with(shown.stdout, "mse")[0].split()[:3] == ["mse", "3", "0"]
    shown_json = json.loads(slipway_cli("runs", "show", ids["b"], "--json").stdout)
    assert shown_json["metrics"]["mse"]["value"] == 3.0
    assert [e["name"] for e in json.loads(slipway_cli("experiments", "list", "--json").stdout)] == ["abalone"]

    bad = slipway_cli("runs", "search", "metrics.mse <")
    assert bad.returncode == 2
    assert bad.stdout == "" and len(bad.stderr.splitlines()) == 1 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr

    unknown = slipway_cli("runs", "show", "nosuchrun")
    assert unknown.returncode == 2
    assert unknown.stderr == "error: run 'nosuchrun' does not exist\n"

    config = slipway_cli("config")
    assert "env SLIPWAY_HOME" in _lines_with(config.stdout, str(home))[0]

    fresh = tmp_path / "fresh.db"
    upgraded = slipway_cli("db", "upgrade", env={"SLIPWAY_DB_URL": f"sqlite:///{fresh}"})
    assert upgraded.returncode == 0, upgraded.stderr
    assert "from revision (empty) to" in upgraded.stdout and fresh.is_file()


def test_tables_are_not_cut_to_80_columns_when_stdout_is_not_a_terminal(home: Path, client: Client) -> None:
    # What a CI log or `| grep` gets: a pipe, and no COLUMNS; Rich alone would cut at 80 (`FINIS…`).
    name = "retrain-abalone-nightly-with-a-name-as-long-as-ci-gives"
    with slipway.start_run("abalone-ci", name=name, client=client) as run:
        run.log_metric("validation_rmse", 0.125)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    listed = subprocess.run([_EXE, "runs", "list"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    (row,) = _lines_with(listed.stdout, run.id)
    assert row.split() == [run.id, name, "abalone-ci", "FINISHED", *row.split()[4:6], "validation_rmse=0.125"]
    assert "…" not in listed.stdout and len(row) > 80


def test_debug_gives_a_traceback(home: Path) -> None:
    result = slipway_cli("runs", "show", "nosuchrun", env={"SLIPWAY_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr or "NotFound" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``slipway server`` on a free loopback port with a store of its own, stopped with Ctrl-C.

    Its first admin and token are made as a newcomer would, with the CLI on the server's store; the
    token is in ``SLIPWAY_TOKEN`` for the test.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    assert _EXE
    store = {"SLIPWAY_HOME": str(tmp_path / "server-home")}
    assert slipway_cli("users", "create", "alice", "--role", "admin", env=store).returncode == 0
    made = slipway_cli("tokens", "create", "--user", "alice", "--expires-in", "1d", "--json", env=store)
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv("SLIPWAY_TOKEN", json.loads(made.stdout)["secret"])
    proc = subprocess.Popen([_EXE, "server", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **store})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become healthy in 60 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    output = (tmp_path / "server.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert f"on http://127.0.0.1:{port}" in output


def test_remote_mode_lists_runs_made_through_the_server(server_url: str, tmp_path: Path) -> None:
    token = os.environ["SLIPWAY_TOKEN"]  # an admin's, made by the fixture
    with Client(load_settings(env={"SLIPWAY_SERVER_URL": server_url, "SLIPWAY_TOKEN": token})) as remote:
        assert remote.remote
        ids = {}
        for name, mse in (("near", 1.0), ("far", 50.0)):
            with slipway.start_run("remote-exp", name=name, client=remote) as run:
                run.log_metric("mse", mse)
            ids[name] = run.id

    local_home = tmp_path / "client-home"
    env = {"SLIPWAY_SERVER_URL": server_url, "SLIPWAY_HOME": str(local_home), "SLIPWAY_TOKEN": token}
    listed = slipway_cli("runs", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    for name, run_id in ids.items():
        [row] = _lines_with(listed.stdout, run_id)
        assert name in row and "remote-exp" in row

    found = slipway_cli("runs", "search", "metrics.mse < 5", "--json", env=env)
    assert [r["id"] for r in json.loads(found.stdout)] == [ids["near"]]
    missing = slipway_cli("runs", "show", "nosuchrun", env=env)
    assert (missing.returncode, missing.stderr) == (2, "error: run 'nosuchrun' does not exist\n")
    assert not local_home.exists()  # remote mode never touched a local store
