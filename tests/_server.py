"""A real Slipway server for tests: uvicorn on 127.0.0.1, a free port, a background thread.

Import the fixture into a conftest (``from _server import live_server``) to use it; or use
:func:`running_server` directly for a server over settings of your own. The server checks tokens:
:attr:`LiveServer.token` is an admin's, and :meth:`LiveServer.client` a remote client sending it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp

from slipway import Client, Settings, load_settings
from slipway._backend import Backend
from slipway.server import create_app

START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LiveServer:
    """A running server: where to reach it, the engines it serves (to read them embedded), and an admin's token."""

    url: str
    settings: Settings
    token: str
    user: str = "test-admin"

    @property
    def headers(self) -> dict[str, str]:
        """The header that authenticates a raw HTTP request as the admin."""
        return {"Authorization": f"Bearer {self.token}"}

    def client(self) -> Client:
        """A remote client of this server, acting as the admin."""
        return Client(server_url=self.url, token=self.token)


def admin_token(backend: Backend, user: str = "test-admin") -> str:
    """A fresh token of ``user`` (an admin, created if missing), made embedded: the local user is trusted."""
    if user not in {u.name for u in backend.security.list_users()}:
        backend.security.create_user(user, ["admin"])
    return backend.security.create_token(user, name="tests").secret


def server_settings(home: Path) -> Settings:
    """Settings for a server of its own under ``home``, whatever the environment says.

    Webhooks may call 127.0.0.1, where the tests' receivers listen (loopback is refused unless listed),
    and pipeline definitions may name the tests' step functions (the default allows none).
    Separation of duties is off: the tests act as one admin who registers and approves alike
    (tests/security turns it on).
    """
    env = {"SLIPWAY_WEBHOOK_HOSTS": "127.0.0.1", "SLIPWAY_PIPELINE_MODULES": "_pipeline_steps",
           "SLIPWAY_SEPARATION_OF_DUTIES": "false"}
    return load_settings(env=env, cwd=home, home=str(home))


@contextlib.contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port until the block ends; yield its base URL."""
    # Bound before the server starts, so no other process can take the port meanwhile. The protocol
    # must be named: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and
    # without it every response with a body waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="slipway-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


@contextlib.contextmanager
def running_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve ``settings``' engines on a free loopback port until the block ends."""
    backend = Backend(settings)
    try:
        token = admin_token(backend)
        with serving(create_app(backend)) as url:
            yield LiveServer(url, settings, token)
    finally:
        backend.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the session, on its own SQLite file and artifact folder."""
    with running_server(server_settings(tmp_path_factory.mktemp("server"))) as server:
        yield server
