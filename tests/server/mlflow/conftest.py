"""One Slipway server for this package's tests, and what to tell MLflow's client to reach it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server import LiveServer, running_server, server_settings

from slipway._backend import Backend


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of the module's own: the MLflow client's runs and models do not mix with other tests'."""
    with running_server(server_settings(Path(tmp_path_factory.mktemp("mlflow-server")))) as live:
        yield live


@pytest.fixture(scope="module")
def backend(server: LiveServer) -> Iterator[Backend]:
    """Slipway's own services over the server's store, to check what landed there."""
    local = Backend(server.settings)
    yield local
    local.close()


@pytest.fixture(scope="module")
def mlflow_api(server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP to ``/api/2.0`` as the admin: what MLflow's client sends, and what a careless client may send."""
    token = getattr(server, "token", None)  # the server checks tokens once the security work is in
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=f"{server.url}/api/2.0", headers=headers, timeout=30) as client:
        yield client
