"""The attack suite's server: one per module, on its own store, with small limits so tests stay fast."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _server import LiveServer, running_server

from slipway import Settings, load_settings

MAX_REQUEST_BYTES = 64 << 10  # small, so oversized bodies are quick to send
MAX_UPLOAD_BYTES = 256 << 10


def hardened_settings(home: Path, **env: str) -> Settings:
    """A server's settings as an operator would harden them: small limits, one shared data folder."""
    (home / "shared").mkdir(parents=True, exist_ok=True)
    values = {
        "SLIPWAY_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
        "SLIPWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "SLIPWAY_DATASET_ROOTS": str(home / "shared"),
        "SLIPWAY_WEBHOOK_HOSTS": "127.0.0.1",
        **env,
    }
    return load_settings(env=values, cwd=home, home=str(home))


@pytest.fixture
def harden() -> Callable[..., Settings]:
    """:func:`hardened_settings`, for a test that starts a server of its own."""
    return hardened_settings


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(hardened_settings(tmp_path_factory.mktemp("hardened"))) as server:
        yield server


@pytest.fixture
def api(hardened: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP to the hardened server's ``/api/v1``, as its admin."""
    with httpx.Client(base_url=f"{hardened.url}/api/v1", headers=hardened.headers, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(api: httpx.Client) -> str:
    """A fresh run on the hardened server."""
    return str(api.post("/runs", json={}).raise_for_status().json()["id"])
