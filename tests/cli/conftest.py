"""Fixtures for driving the CLI: an isolated SLIPWAY_HOME, an SDK client on it, and seeded runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import slipway
from slipway import Client, load_settings
from slipway.cli import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SLIPWAY_HOME for the CLI and the SDK alike; a wide terminal so tables never wrap ids."""
    path = tmp_path / "home"
    monkeypatch.setenv("SLIPWAY_HOME", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def cli(home: Path) -> Callable[..., Result]:
    """Run ``slipway ARGS...`` in-process; stdout and stderr come back apart."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    return invoke


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    """The SDK, embedded, on the same store as the CLI."""
    with Client(load_settings()) as c:
        yield c


@pytest.fixture
def seeded(client: Client) -> dict[str, str]:
    """Three finished runs of experiment ``abalone``, by name: ridge-b has mse 3, ridge-a 4, ridge-c 9.

    Logged through the SDK as a user would; only the ``alpha`` param differs between them.
    """
    ids = {}
    for name, alpha, mse in (("ridge-a", "0.5", 4.0), ("ridge-b", "0.1", 3.0), ("ridge-c", "2.0", 9.0)):
        with slipway.start_run("abalone", name=name, client=client) as run:
            run.log_params({"alpha": alpha, "model": "ridge"})
            for step, value in enumerate((mse + 2, mse + 1, mse)):
                run.log_metric("mse", value, step=step)
            run.set_tag("team", "fish")
            ids[name] = run.id
    return ids
