"""The root command: help, version, and how every failure reaches the user."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from typer.testing import Result

from slipway import __version__
from slipway.cli import _config

Cli = Callable[..., Result]  # the `cli` fixture: run `slipway ARGS...` in-process


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"slipway {__version__} (slipway-mlops)\n"  # pip installs it as slipway-mlops


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), ([], 2)])  # bare `slipway`: help as a usage hint
def test_help_explains_slipway_and_names_the_main_commands(cli: Cli, args: list[str], code: int) -> None:
    result = cli(*args)
    assert result.exit_code == code
    text = result.output
    assert "machine-learning" in text
    for command in ("experiments", "runs", "server", "config", "db", "runs search"):
        assert command in text


def test_every_command_has_help(cli: Cli) -> None:
    for args in (["config"], ["db", "upgrade"], ["db", "current"], ["server"], ["experiments", "list"],
                 ["experiments", "create"], ["experiments", "delete"], ["experiments", "restore"],
                 ["runs", "list"], ["runs", "search"], ["runs", "show"], ["runs", "compare"],
                 ["runs", "history"], ["runs", "download"]):
        result = cli(*args, "--help")
        assert result.exit_code == 0, args
        assert "Usage:" in result.output and "--help" in result.output


def test_usage_errors_keep_typers_exit_code(cli: Cli) -> None:
    result = cli("runs", "frobnicate")
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_slipway_error_is_one_red_line_with_its_exit_code(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_CONFIG", "/nonexistent/slipway.toml")
    result = cli("config")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: SLIPWAY_CONFIG names /nonexistent/slipway.toml, which does not exist\n"


def test_debug_shows_the_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_CONFIG", "/nonexistent/slipway.toml")
    monkeypatch.setenv("SLIPWAY_DEBUG", "1")
    result = cli("config")
    assert result.exit_code != 0
    assert "error:" not in result.stderr
    assert "does not exist" in str(result.exception)


def test_unexpected_exception_is_one_line_too(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("disk\non fire")

    monkeypatch.setattr(_config, "load_settings", broken)
    result = cli("config")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected RuntimeError: disk on fire (set SLIPWAY_DEBUG=1 to see the traceback)\n"
    )


def test_ctrl_c_exits_130_quietly(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_config, "load_settings", interrupted)
    result = cli("config")
    assert result.exit_code == 130
    assert "Traceback" not in result.output and "error" not in result.output


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "slipway", "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"slipway {__version__} (slipway-mlops)\n"
